namespace Broker.Telemetry;

public static class TelemetryExtensions
{
    /// <summary>Fleet Telemetry: configure cars to stream (each account poll) and ingest what fleet-telemetry publishes to MQTT.</summary>
    public static WebApplicationBuilder AddTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<TelemetryWriter>();
        builder.Services.AddScoped<TelemetrySetup>();
        var options = builder.Configuration.GetSection(TelemetryOptions.SectionName).Get<TelemetryOptions>() ?? new();
        if (options.Enabled)
        {
            builder.Services.AddSingleton<TelemetryIngest>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<TelemetryIngest>());
        }
        return builder;
    }
}

using TeslaSimulator.Telemetry;

namespace TeslaSimulator.Fleet;

internal static class FleetExtensions
{
    public static WebApplicationBuilder AddFleetApi(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<FleetGate>();
        builder.Services.AddSingleton<DeviceRateLimiter>();
        builder.Services.AddSingleton<PartnerRegistry>();
        builder.Services.AddSingleton<PartnerKeyDownloader>();
        builder.Services.AddHttpClient(PartnerKeyDownloader.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(10));
        // Telemetry/: the cars and Tesla's fleet-telemetry server, publishing to MQTT (Simulator:Telemetry:MqttHost)
        builder.Services.AddOptions<TelemetryStreamOptions>().BindConfiguration(TelemetryStreamOptions.SectionName);
        builder.Services.AddSingleton<TelemetryStreamer>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TelemetryStreamer>());
        return builder;
    }

    public static IEndpointRouteBuilder MapFleetApi(this IEndpointRouteBuilder app)
    {
        app.MapUsers();
        app.MapVehicles();
        app.MapCommands();
        app.MapSignedCommands();   // the Vehicle Command Protocol; the car side is Car/
        app.MapEnergy();
        app.MapPartner();
        app.MapTelemetry();   // Telemetry/: fleet_telemetry_config(_jws), a car's config and errors
        return app;
    }
}

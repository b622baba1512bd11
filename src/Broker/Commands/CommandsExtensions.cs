namespace Broker.Commands;

public static class CommandsExtensions
{
    /// <summary>Commands to cars: REST or signed (Vehicle Command Protocol), with policy, idempotency and Tesla's limits.</summary>
    public static WebApplicationBuilder AddCommands(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<CommandOptions>().BindConfiguration(CommandOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<SessionKeyCache>();
        builder.Services.AddScoped<SignedChannel>();
        builder.Services.AddScoped<VehicleCommands>();
        return builder;
    }
}

namespace TeslaSimulator.Fleet;

internal static class FleetExtensions
{
    public static WebApplicationBuilder AddFleetApi(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<FleetGate>();
        builder.Services.AddSingleton<DeviceRateLimiter>();
        return builder;
    }

    public static IEndpointRouteBuilder MapFleetApi(this IEndpointRouteBuilder app)
    {
        app.MapUsers();
        app.MapVehicles();
        app.MapCommands();
        app.MapEnergy();
        return app;
    }
}

namespace TeslaSimulator.Control;

internal static class ControlExtensions
{
    public static WebApplicationBuilder AddControl(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<CallLedger>();
        builder.Services.AddSingleton<FaultQueue>();
        builder.Services.AddSingleton<VehicleDataShapes>();
        return builder;
    }
}

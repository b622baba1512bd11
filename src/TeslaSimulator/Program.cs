var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();
app.MapGet("/status", () => "ok");
app.Run();

namespace TeslaSimulator
{
    /// <summary>Anchor type so tests can host the simulator with WebApplicationFactory.</summary>
    public sealed class SimulatorMarker;
}

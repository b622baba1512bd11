using TeslaSimulator.Auth;
using TeslaSimulator.Control;
using TeslaSimulator.State;

namespace TeslaSimulator.Fleet;

internal static class EnergyEndpoints
{
    public static RouteGroupBuilder MapEnergy(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/1/energy_sites/{siteId}");
        group.MapGet("/live_status", (HttpContext ctx, string siteId, FleetGate gate, SimulatorState state) =>
            WithSiteAsync(ctx, siteId, gate, state, s => EnergyJson.LiveStatus(s, state.Now)));
        group.MapGet("/site_info", (HttpContext ctx, string siteId, FleetGate gate, SimulatorState state) =>
            WithSiteAsync(ctx, siteId, gate, state, EnergyJson.SiteInfo));
        return group;
    }

    private static async Task<IResult> WithSiteAsync(HttpContext ctx, string siteId, FleetGate gate, SimulatorState state,
        Func<SimEnergySite, System.Text.Json.Nodes.JsonObject> render)
    {
        var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.EnergyDeviceData);
        if (error is not null) return error;
        ctx.SetDevice(siteId);
        lock (state.Gate)
        {
            var site = caller!.Account!.EnergySites.FirstOrDefault(s => s.Seed.EnergySiteId.ToString() == siteId);
            if (site is null) return FleetGate.Envelope(404, "not_found");
            site.Advance(state.Now);
            return TypedResults.Json(render(site));
        }
    }
}

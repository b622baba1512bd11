using System.Text.Json.Nodes;
using TeslaSimulator.Auth;
using TeslaSimulator.Fixtures;
using TeslaSimulator.Hosting;
using TeslaSimulator.State;

namespace TeslaSimulator.Fleet;

/// <summary>/status, /api/1/users/region (works on any regional host), /api/1/users/me and /api/1/products.</summary>
internal static class UserEndpoints
{
    public static IEndpointRouteBuilder MapUsers(this IEndpointRouteBuilder app)
    {
        app.MapGet("/status", () => TypedResults.Text("ok"));

        app.MapGet("/api/1/users/region", async (HttpContext ctx, FleetGate gate, SimulatorOptions options) =>
        {
            var (caller, error) = await gate.CheckAsync(ctx, checkRegion: false, partner: false);
            if (error is not null) return error;
            var region = caller!.Account!.Region;
            return TypedResults.Json(new JsonObject
            {
                ["response"] = new JsonObject { ["region"] = region, ["fleet_api_base_url"] = options.RegionBase(region) },
            });
        });

        // The account's profile; needs user_data, else the 403 "Unauthorized missing scopes" (tesla-confirmed §1, vc#49).
        app.MapGet("/api/1/users/me", async (HttpContext ctx, FleetGate gate) =>
        {
            var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.UserData);
            if (error is not null) return error;
            var body = Fixture.Object("users_me");
            var me = body["response"]!.AsObject();
            me["email"] = caller!.Account!.Email;
            me["full_name"] = caller.Account.FullName;
            return TypedResults.Json(body);
        });

        app.MapGet("/api/1/products", async (HttpContext ctx, FleetGate gate, SimulatorState state) =>
        {
            var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.VehicleDeviceData, Scopes.EnergyDeviceData);
            if (error is not null) return error;
            lock (state.Gate)
            {
                var account = caller!.Account!;
                var items = new JsonArray();
                // Each kind of product is listed only with the scope that covers it.
                if (caller.Has(Scopes.VehicleDeviceData))
                    foreach (var v in account.Vehicles) { v.Advance(state.Now, state.Timing); items.Add(VehicleJson.Product(v, state.Now)); }
                if (caller.Has(Scopes.EnergyDeviceData))
                    foreach (var s in account.EnergySites) { s.Advance(state.Now); items.Add(EnergyJson.Product(s, state.Now)); }
                return TypedResults.Json(new JsonObject { ["response"] = items, ["count"] = items.Count });
            }
        });
        return app;
    }
}

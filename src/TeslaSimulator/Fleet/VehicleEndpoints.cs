using System.Text.Json.Nodes;
using TeslaSimulator.Auth;
using TeslaSimulator.Control;
using TeslaSimulator.Fixtures;
using TeslaSimulator.State;

namespace TeslaSimulator.Fleet;

/// <summary>Vehicle list and summary (never wake a car), vehicle_data (keeps it awake) and wake_up.</summary>
internal static class VehicleEndpoints
{
    public static RouteGroupBuilder MapVehicles(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/1/vehicles");
        group.MapGet("/", ListAsync);
        group.MapGet("/{tag}", async (HttpContext ctx, string tag, FleetGate gate, SimulatorState state) =>
        {
            var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.VehicleDeviceData);
            if (error is not null) return error;
            lock (state.Gate)
            {
                if (state.Vehicle(caller!.Account!, tag) is not { } v) return NotFound(ctx, tag);
                ctx.SetDevice(v.Vin);
                return TypedResults.Json(new JsonObject { ["response"] = VehicleJson.Summary(v) });
            }
        });
        group.MapGet("/{tag}/vehicle_data", VehicleDataAsync);
        group.MapPost("/{tag}/wake_up", WakeUpAsync);
        return group;
    }

    internal static async Task<IResult> ListAsync(HttpContext ctx, FleetGate gate, SimulatorState state, int? page, int? per_page)
    {
        var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.VehicleDeviceData);
        if (error is not null) return error;
        var size = Math.Clamp(per_page ?? 100, 1, state.Options.MaxVehiclesPerPage);
        var current = Math.Max(1, page ?? 1);
        lock (state.Gate)
        {
            var all = caller!.Account!.Vehicles;
            foreach (var v in all) v.Advance(state.Now, state.Timing);
            var pages = Math.Max(1, (int)Math.Ceiling(all.Count / (double)size));
            var items = new JsonArray([.. all.Skip((current - 1) * size).Take(size).Select(v => (JsonNode)VehicleJson.Summary(v))]);
            var body = Fixture.Object("vehicles_list");
            body["response"] = items;
            body["pagination"] = new JsonObject
            {
                ["previous"] = current > 1 ? current - 1 : null,
                ["next"] = current < pages ? current + 1 : null,
                ["current"] = current,
                ["per_page"] = size,
                ["count"] = all.Count,
                ["pages"] = pages,
            };
            body["count"] = all.Count;
            return TypedResults.Json(body);
        }
    }

    internal static async Task<IResult> VehicleDataAsync(HttpContext ctx, string tag, string? endpoints, FleetGate gate, SimulatorState state, DeviceRateLimiter limiter, Control.VehicleDataShapes shapes)
    {
        var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.VehicleDeviceData);
        if (error is not null) return error;
        var wanted = endpoints is null
            ? VehicleJson.DefaultEndpoints
            : endpoints.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (wanted.Contains("location_data") && !caller!.Has(Scopes.VehicleLocation))
            return Fixture.Result("error_403_missing_scopes", 403);
        lock (state.Gate)
        {
            if (state.Vehicle(caller!.Account!, tag) is not { } v) return NotFound(ctx, tag);
            ctx.SetDevice(v.Vin);
            if (limiter.Hit(ctx, v.Vin, RateKind.Data) is { } limited) return limited;
            if (!v.IsAwake) return Fixture.Result("error_408_vehicle_unavailable", 408);
            v.Touch(state.Now);
            var data = VehicleJson.VehicleData(v, wanted, state.Now);
            if (state.Options.DriveStateNeedsLocationScope && !caller.Has(Scopes.VehicleLocation)) data.Remove("drive_state");
            return TypedResults.Json(new JsonObject { ["response"] = shapes.Apply(v.Vin, data) });
        }
    }

    internal static async Task<IResult> WakeUpAsync(HttpContext ctx, string tag, FleetGate gate, SimulatorState state, DeviceRateLimiter limiter)
    {
        // Tesla's scope table lists wake up under vehicle_cmds, while the 2023 endpoint text named vehicle_device_data
        // (tesla-confirmed §3). The stricter reading: without vehicle_cmds, 403 "Unauthorized missing scopes".
        var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.VehicleCmds);
        if (error is not null) return error;
        lock (state.Gate)
        {
            if (state.Vehicle(caller!.Account!, tag) is not { } v) return NotFound(ctx, tag);
            ctx.SetDevice(v.Vin);
            if (limiter.Hit(ctx, v.Vin, RateKind.Wake) is { } limited) return limited;
            // Answers at once with the current state; the car comes online WakeUpSeconds later.
            v.RequestWake(state.Now, state.Timing);
            return TypedResults.Json(new JsonObject { ["response"] = VehicleJson.Summary(v) });
        }
    }

    internal static IResult NotFound(HttpContext ctx, string tag)
    {
        ctx.SetDevice(tag);
        return FleetGate.Envelope(404, "not_found");
    }
}

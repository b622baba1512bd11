using System.Text.Json;
using System.Text.Json.Nodes;
using TeslaSimulator.Auth;
using TeslaSimulator.Control;
using TeslaSimulator.Fixtures;
using TeslaSimulator.State;

namespace TeslaSimulator.Fleet;

/// <summary>POST /api/1/vehicles/{tag}/command/{name}: the REST commands the broker and demo need.</summary>
internal static class CommandEndpoints
{
    private static readonly HashSet<string> ChargingCommands =
        ["charge_start", "charge_stop", "set_charge_limit", "set_charging_amps", "charge_port_door_open", "charge_port_door_close"];

    private static readonly HashSet<string> Known =
        [.. ChargingCommands, "honk_horn", "flash_lights", "door_lock", "door_unlock", "auto_conditioning_start", "auto_conditioning_stop"];

    public static IEndpointRouteBuilder MapCommands(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/1/vehicles/{tag}/command/{name}", RunAsync);
        return app;
    }

    internal static async Task<IResult> RunAsync(HttpContext ctx, string tag, string name, FleetGate gate, SimulatorState state, DeviceRateLimiter limiter)
    {
        string[] scopes = ChargingCommands.Contains(name) ? [Scopes.VehicleCmds, Scopes.VehicleChargingCmds] : [Scopes.VehicleCmds];
        var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, scopes);
        if (error is not null) return error;
        var body = await ReadBodyAsync(ctx);
        lock (state.Gate)
        {
            if (state.Vehicle(caller!.Account!, tag) is not { } v) return VehicleEndpoints.NotFound(ctx, tag);
            ctx.SetDevice(v.Vin);
            if (limiter.Hit(ctx, v.Vin, RateKind.Command) is { } limited) return limited;
            if (v.Seed.CommandProtocolRequired) return Fixture.Result("error_403_command_protocol_required", 403);
            if (!Known.Contains(name)) return FleetGate.Envelope(400, "invalid_command");
            if (!v.IsAwake) return Fixture.Result("error_408_vehicle_unavailable", 408);

            var now = state.Now;
            v.Touch(now);
            var rejected = name switch
            {
                "charge_start" => v.StartCharging(now),
                "charge_stop" => v.StopCharging(now),
                "set_charge_limit" => body?["percent"] is JsonValue p && p.TryGetValue<int>(out var percent)
                    ? v.SetChargeLimit(percent) : "invalid_percent",
                "set_charging_amps" => body?["charging_amps"] is JsonValue a && a.TryGetValue<int>(out var amps)
                    ? v.SetChargingAmps(amps) : "invalid_amps", // [assumed] reason text, as for a signed command
                "charge_port_door_open" => v.OpenChargePort(),
                "charge_port_door_close" => v.CloseChargePort(),
                "auto_conditioning_start" => v.SetClimate(true),
                "auto_conditioning_stop" => v.SetClimate(false),
                "door_lock" => Lock(v, true),
                "door_unlock" => Lock(v, false),
                _ => null, // honk, flash: nothing to model beyond success
            };
            return rejected is null ? Fixture.Result("command_result_ok", 200) : Rejected(rejected);
        }
    }

    private static string? Lock(SimVehicle v, bool locked)
    {
        v.Locked = locked;
        return null;
    }

    private static IResult Rejected(string reason)
    {
        var body = Fixture.Object("command_result_rejected");
        body["response"]!["reason"] = reason;
        return TypedResults.Json(body);
    }

    private static async Task<JsonNode?> ReadBodyAsync(HttpContext ctx)
    {
        if (ctx.Request.ContentLength is 0 || !(ctx.Request.ContentType?.Contains("json") ?? false)) return null;
        try { return await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted); }
        catch (JsonException) { return null; }
    }
}

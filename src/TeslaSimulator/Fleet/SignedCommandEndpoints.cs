using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using TeslaSimulator.Auth;
using TeslaSimulator.Car;
using TeslaSimulator.Control;
using TeslaSimulator.Fixtures;
using TeslaSimulator.State;
using VehicleCommand.Messages.CarServer;
using VehicleCommand.Messages.Signatures;
using VehicleCommand.Messages.UniversalMessage;

namespace TeslaSimulator.Fleet;

/// <summary>
/// POST /api/1/vehicles/{tag}/signed_command: the Fleet API's pipe to a car's Vehicle Command Protocol
/// (protocol.md "HTTPS"; pkg/connector/inet/inet.go): <c>{"routable_message": base64}</c> in, 200
/// <c>{"response": base64}</c> out whenever the car answered, whatever the answer says. The car's side is Car/.
/// Same gate, per-device command limit and billing as REST commands (TESLA.md §5, §7): every call that reaches the car
/// is billed as a command, handshakes included, since no source exempts them [assumed].
/// </summary>
internal static class SignedCommandEndpoints
{
    public static IEndpointRouteBuilder MapSignedCommands(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/1/vehicles/{tag}/signed_command", RunAsync);
        return app;
    }

    internal static async Task<IResult> RunAsync(HttpContext ctx, string tag, FleetGate gate, SimulatorState state, DeviceRateLimiter limiter)
    {
        // Scopes are checked below, once the message is read: the Fleet API decides them from the plaintext payload.
        var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false);
        if (error is not null) return error;
        if (await ReadAsync(ctx) is not { } request)
        {
            // Tesla's answer to a malformed body is not published; the conventions page's 400 invalid_request is used [assumed].
            return FleetGate.Envelope(400, "invalid_request");
        }
        if (!Allowed(request, caller!)) return Fixture.Result("error_403_missing_scopes", 403);

        LostAnswer? lose;
        IResult answer;
        lock (state.Gate)
        {
            if (state.Vehicle(caller!.Account!, tag) is not { } v) return VehicleEndpoints.NotFound(ctx, tag);
            ctx.SetDevice(v.Vin);
            if (limiter.Hit(ctx, v.Vin, RateKind.Command) is { } limited) return limited;
            var car = v.CommandCar;
            // The Go proxy falls back to REST on this answer (inet.go, TESLA.md §5); the body text is the brief's
            // "vehicle does not support signed commands" in the usual envelope [assumed: no capture published].
            if (!car.SupportsSignedCommands) return FleetGate.Envelope(422, "vehicle does not support signed commands");
            if (!v.IsAwake) return Fixture.Result("error_408_vehicle_unavailable", 408);

            var now = state.Now;
            v.Touch(now);
            var paired = v.VirtualKeys.Select(k => Convert.FromHexString(k.PublicKey)).ToList();
            var outcome = car.Handle(request, v, paired, now);
            lose = outcome.Applied && car.LoseAnswers is { Count: > 0 } l ? l : null;
            if (lose is not null) car.LoseAnswers = lose.Count > 1 ? lose with { Count = lose.Count - 1 } : null;
            answer = TypedResults.Json(new JsonObject { ["response"] = Convert.ToBase64String(outcome.Answer.ToByteArray()) });
        }
        if (lose is null) return answer;
        // The command ran; its answer never comes back (protocol.md "Response handling": the vehicle may have executed a
        // command whose response was lost). Real time on purpose, to meet the client's real timeout.
        if (lose.DelayMs > 0) await Task.Delay(lose.DelayMs, ctx.RequestAborted);
        return FleetGate.Envelope(lose.Status, lose.Status >= 500 ? "upstream internal error" : "vehicle unavailable: vehicle is offline or asleep");
    }

    /// <summary>
    /// protocol.md "Authentication methods": HMAC-signed commands stay readable "so the Fleet API backend can reject
    /// commands based on OAuth scopes"; AES-GCM ones are blocked "because it cannot enforce OAuth scopes". Charging
    /// actions take vehicle_charging_cmds or vehicle_cmds (TESLA.md §2), the rest vehicle_cmds; a handshake either.
    /// Blocked AES-GCM commands get the missing-scopes 403: the shape of Tesla's block is not published [assumed].
    /// </summary>
    private static bool Allowed(RoutableMessage request, FleetCaller caller)
    {
        var any = caller.Has(Scopes.VehicleCmds) || caller.Has(Scopes.VehicleChargingCmds);
        if (request.PayloadCase == RoutableMessage.PayloadOneofCase.SessionInfoRequest) return any;
        if (request.SignatureData?.SigTypeCase == SignatureData.SigTypeOneofCase.AESGCMPersonalizedData) return false;
        if (caller.Has(Scopes.VehicleCmds)) return true;
        return caller.Has(Scopes.VehicleChargingCmds) && IsCharging(request);
    }

    private static bool IsCharging(RoutableMessage request)
    {
        if (request.ToDestination?.Domain != Domain.Infotainment || request.PayloadCase != RoutableMessage.PayloadOneofCase.ProtobufMessageAsBytes) return false;
        try
        {
            return VehicleCommand.Messages.CarServer.Action.Parser.ParseFrom(request.ProtobufMessageAsBytes).VehicleAction?.VehicleActionMsgCase is
                VehicleAction.VehicleActionMsgOneofCase.ChargingStartStopAction or VehicleAction.VehicleActionMsgOneofCase.SetChargingAmpsAction
                or VehicleAction.VehicleActionMsgOneofCase.ChargingSetLimitAction or VehicleAction.VehicleActionMsgOneofCase.ChargePortDoorOpen
                or VehicleAction.VehicleActionMsgOneofCase.ChargePortDoorClose;
        }
        catch (InvalidProtocolBufferException) { return false; }
    }

    /// <summary>The body's routable_message: standard base64 of a RoutableMessage (inet.go), or null.</summary>
    private static async Task<RoutableMessage?> ReadAsync(HttpContext ctx)
    {
        try
        {
            var body = await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted);
            if (body?["routable_message"] is not JsonValue value || !value.TryGetValue<string>(out var text) || text.Length == 0) return null;
            return RoutableMessage.Parser.ParseFrom(Convert.FromBase64String(text));
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidProtocolBufferException or InvalidOperationException) { return null; }
    }
}

using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using TeslaSimulator.Auth;
using TeslaSimulator.Fleet;
using TeslaSimulator.State;
using TeslaSimulator.Telemetry;

namespace TeslaSimulator.Control;

internal sealed record VehicleStateRequest(string State);
internal sealed record ResetPasswordRequest(string? Password);
internal sealed record VirtualKeyRequest(string Domain, bool Paired);
internal sealed record SignedCommandsRequest(bool Supported);
internal sealed record LoseAnswersRequest(int? Count, int? Status, int? DelayMs);

/// <summary>The /_sim control API for tests and demos: accounting, fault injection, state overrides. Loopback only.</summary>
internal static class ControlEndpoints
{
    public static RouteGroupBuilder MapControl(this IEndpointRouteBuilder app)
    {
        var sim = app.MapGroup("/_sim").AddEndpointFilter(async (context, next) =>
        {
            var ip = context.HttpContext.Connection.RemoteIpAddress;
            return ip is null || IPAddress.IsLoopback(ip) ? await next(context) : TypedResults.StatusCode(403);
        });

        sim.MapGet("/calls", (string? account, CallLedger ledger) => TypedResults.Ok(ledger.Snapshot(account)));
        sim.MapDelete("/calls", (CallLedger ledger) => { ledger.Reset(); return TypedResults.NoContent(); });

        sim.MapGet("/faults", (FaultQueue faults) => TypedResults.Ok(faults.List()));
        sim.MapPost("/faults", (FaultRequest fault, FaultQueue faults) => AddFault(fault, faults));
        sim.MapPost("/fail-next", (string? path, int? status, int? count, int? delayMs, string? body, int? retryAfter, bool? afterCommit, FaultQueue faults) =>
            AddFault(new FaultRequest(path ?? "/", status ?? 500, count, delayMs, body, retryAfter, afterCommit ?? false), faults));
        sim.MapDelete("/faults", (FaultQueue faults) => { faults.Clear(); return TypedResults.NoContent(); });

        sim.MapPost("/vehicles/{vin}/state", Results<Ok<object>, NotFound, BadRequest<string>> (string vin, VehicleStateRequest request, SimulatorState state) =>
        {
            if (request.State is not ("asleep" or "online" or "driving" or "charging" or "offline"))
                return TypedResults.BadRequest("state must be asleep, online, driving, charging or offline");
            lock (state.Gate)
            {
                if (state.AllVehicles.FirstOrDefault(v => v.Vin.Equals(vin, StringComparison.OrdinalIgnoreCase)) is not { } v) return TypedResults.NotFound();
                v.ForceState(request.State, state.Now);
                return TypedResults.Ok(SimStateView.Vehicle(v));
            }
        });

        // vehicle_data for this car answers in another shape (nulls, missing or extra fields) until DELETE.
        sim.MapPut("/vehicles/{vin}/vehicle-data-shape", (string vin, VehicleDataShape shape, VehicleDataShapes shapes) => { shapes.Set(vin, shape); return TypedResults.NoContent(); });
        sim.MapDelete("/vehicles/{vin}/vehicle-data-shape", (string vin, VehicleDataShapes shapes) => { shapes.Clear(vin); return TypedResults.NoContent(); });

        // Pairs or removes a partner's key as if the owner had used tesla.com/_ak/<domain>, without the page's sign-in,
        // consent and re-download checks. Pairing still needs the domain registered in the owner's region.
        sim.MapPost("/vehicles/{vin}/virtual-key", Results<Ok<object>, NotFound, BadRequest<string>> (string vin, VirtualKeyRequest request, SimulatorState state, PartnerRegistry registry) =>
        {
            lock (state.Gate)
            {
                if (state.AllVehicles.FirstOrDefault(v => v.Vin.Equals(vin, StringComparison.OrdinalIgnoreCase)) is not { } v) return TypedResults.NotFound();
                if (!request.Paired) PartnerRegistry.Unpair(v, request.Domain ?? "");
                else if (registry.ByDomain(request.Domain ?? "", v.Owner.Region) is { } registration) PartnerRegistry.Pair(v, registration, state.Now);
                else return TypedResults.BadRequest($"application has not registered with Tesla: {request.Domain} is not registered in region {v.Owner.Region}");
                return TypedResults.Ok(SimStateView.Vehicle(v));
            }
        });

        // Another app's Fleet Telemetry config on a car (as if that app had configured it), to fill the car's slots.
        sim.MapPut("/vehicles/{vin}/telemetry-configs/{clientId}", Results<Ok<object>, NotFound, BadRequest<string>> (string vin, string clientId, JsonObject config, SimulatorState state) =>
        {
            lock (state.Gate)
            {
                if (state.AllVehicles.FirstOrDefault(v => v.Vin.Equals(vin, StringComparison.OrdinalIgnoreCase)) is not { } v) return TypedResults.NotFound();
                var (parsed, invalid) = TelemetryConfig.Parse(clientId, config, state.Now);
                if (parsed is null) return TypedResults.BadRequest(invalid!);
                v.TelemetryConfigs[clientId] = parsed with { SyncedAt = v.IsAwake ? state.Now : null };
                return TypedResults.Ok(SimStateView.Vehicle(v));
            }
        });

        // Car/: the car's side of the Vehicle Command Protocol.
        // Reboots a domain (vcsec or infotainment): a new epoch, clock from zero, counters forgotten (protocol.md "Time").
        sim.MapPost("/vehicles/{vin}/domains/{domain}/reboot", Results<Ok<object>, NotFound, BadRequest<string>> (string vin, string domain, SimulatorState state) =>
        {
            lock (state.Gate)
            {
                if (state.AllVehicles.FirstOrDefault(v => v.Vin.Equals(vin, StringComparison.OrdinalIgnoreCase)) is not { } v) return TypedResults.NotFound();
                var d = domain.ToLowerInvariant() switch { "vcsec" => v.CommandCar.Vcsec, "infotainment" => v.CommandCar.Infotainment, _ => null };
                if (d is null) return TypedResults.BadRequest("domain must be vcsec or infotainment");
                d.Reboot(state.Now);
                return TypedResults.Ok<object>(new { domain, epoch = Convert.ToHexStringLower(d.Epoch) });
            }
        });
        // A car that predates the protocol (pre-2021 Model S/X): signed_command answers 422 while supported is false.
        sim.MapPut("/vehicles/{vin}/signed-commands", Results<NoContent, NotFound> (string vin, SignedCommandsRequest request, SimulatorState state) =>
        {
            lock (state.Gate)
            {
                if (state.AllVehicles.FirstOrDefault(v => v.Vin.Equals(vin, StringComparison.OrdinalIgnoreCase)) is not { } v) return TypedResults.NotFound();
                v.CommandCar.SupportsSignedCommands = request.Supported;
                return TypedResults.NoContent();
            }
        });
        // The next count signed commands are applied by the car but their answer is lost: after delayMs (real time), status
        // (default 504) instead of the car's answer. Handshakes and refused commands are not affected. Never 503: Tesla's 503
        // means the command did not reach the car (vehicle-command pkg/connector/inet/inet.go), so it cannot follow one it did.
        sim.MapPost("/vehicles/{vin}/signed-commands/lose-answers", Results<NoContent, NotFound, BadRequest<string>> (string vin, LoseAnswersRequest request, SimulatorState state) =>
        {
            if (request.Status is { } lost && (lost == 503 || lost < 500)) return TypedResults.BadRequest("a lost answer is a 5xx other than 503 (a 503 says the car was not reached)");
            lock (state.Gate)
            {
                if (state.AllVehicles.FirstOrDefault(v => v.Vin.Equals(vin, StringComparison.OrdinalIgnoreCase)) is not { } v) return TypedResults.NotFound();
                v.CommandCar.LoseAnswers = new Car.LostAnswer(Math.Max(1, request.Count ?? 1), request.Status ?? 504, Math.Max(0, request.DelayMs ?? 0));
                return TypedResults.NoContent();
            }
        });
        // What the car applied, oldest first: domain, command name, counter, ok or error and the reason.
        sim.MapGet("/vehicles/{vin}/signed-commands", Results<Ok<List<Car.AppliedCommand>>, NotFound> (string vin, SimulatorState state) =>
        {
            lock (state.Gate)
            {
                if (state.AllVehicles.FirstOrDefault(v => v.Vin.Equals(vin, StringComparison.OrdinalIgnoreCase)) is not { } v) return TypedResults.NotFound();
                return TypedResults.Ok(v.CommandCar.Log.ToList());
            }
        });

        sim.MapPost("/accounts/{email}/revoke-consent", Results<NoContent, NotFound> (string email, string? clientId, SimulatorState state, AuthStore store) =>
        {
            lock (state.Gate)
            {
                if (state.AccountByEmail(email) is not { } account) return TypedResults.NotFound();
                state.RevokeConsents(account, clientId);
                store.KillRefreshTokens(account, clientId);
                return TypedResults.NoContent();
            }
        });

        sim.MapPost("/accounts/{email}/reset-password", Results<NoContent, NotFound> (string email, ResetPasswordRequest? request, SimulatorState state) =>
        {
            lock (state.Gate)
            {
                if (state.AccountByEmail(email) is not { } account) return TypedResults.NotFound();
                // A password reset kills refresh tokens (Tesla answers login_required); the grant itself survives.
                account.PasswordEpoch++;
                if (!string.IsNullOrEmpty(request?.Password)) account.Password = request.Password;
                return TypedResults.NoContent();
            }
        });

        // Every code and token the auth server issued (newest AuthStore.IssuedKept), so tests can prove none leaks.
        sim.MapGet("/issued", (SimulatorState state, AuthStore store) =>
        {
            lock (state.Gate) return TypedResults.Ok(new { Secrets = store.Issued.ToList() });
        });

        sim.MapGet("/state", (SimulatorState state, PartnerRegistry registry, SimRealms realms) => { lock (state.Gate) return TypedResults.Ok(SimStateView.Of(state, registry, realms)); });

        // Auth servers (global, cn) and what each puts in id_tokens. PUT /_sim/realms/cn/id-token?mode=absent switches it
        // (normal, absent, other-issuer, no-nonce, bad-signature, other-subject, other-nonce) until changed again.
        sim.MapGet("/realms", (SimRealms realms) => TypedResults.Ok(realms.All.Select(SimStateView.Realm)));
        sim.MapPut("/realms/{realm}/id-token", Results<Ok<object>, NotFound, BadRequest<string>> (string realm, string? mode, SimRealms realms) =>
        {
            if (realms.Named(realm) is not { } r) return TypedResults.NotFound();
            if (!Enum.TryParse<IdTokenMode>((mode ?? "").Replace("-", ""), ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed))
                return TypedResults.BadRequest($"mode must be one of {string.Join(", ", Enum.GetNames<IdTokenMode>())}");
            r.IdToken = parsed;
            return TypedResults.Ok(SimStateView.Realm(r));
        });
        return sim.MapAccountControl();
    }

    private static Created<PendingFault> AddFault(FaultRequest fault, FaultQueue faults)
    {
        var pending = faults.Add(fault);
        return TypedResults.Created($"/_sim/faults/{pending.Id}", pending);
    }
}

using System.Text.Json.Nodes;
using TeslaSimulator.Auth;
using TeslaSimulator.Control;
using TeslaSimulator.Fixtures;
using TeslaSimulator.Fleet;
using TeslaSimulator.Hosting;
using TeslaSimulator.State;

namespace TeslaSimulator.Telemetry;

/// <summary>
/// Fleet Telemetry configuration (TESLA.md §8.1): the signed config (<c>fleet_telemetry_config_jws</c>, what
/// vehicle-command's proxy forwards), the legacy direct config of CSR apps, and per car its config and errors.
/// Tesla's docs give each endpoint a pricing category, but none was found for these; the call ledger counts them as
/// "meta", not billed. Bodies and statuses for a bad request were not found either: those here are the simulator's own
/// (400/422 in the usual envelope), and say so.
/// </summary>
internal static class TelemetryEndpoints
{
    /// <summary>Apps per car. Tesla's get page says 3, its create page 5 (TESLA.md §8.1): the simulator plays the stricter 3.</summary>
    public const int MaxConfigsPerVehicle = 3;

    // Through the proxy (a JWS) fw 2024.26; legacy CSR apps calling directly 2023.20 (Tesla's vehicle endpoints page).
    private static readonly Version JwsMinimumFirmware = new(2024, 26);
    private static readonly Version DirectMinimumFirmware = new(2023, 20);

    public static RouteGroupBuilder MapTelemetry(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/1/vehicles");
        group.MapPost("/fleet_telemetry_config_jws", ConfigureJwsAsync);
        group.MapPost("/fleet_telemetry_config", ConfigureDirectAsync);
        group.MapGet("/{tag}/fleet_telemetry_config", GetAsync);
        group.MapDelete("/{tag}/fleet_telemetry_config", DeleteAsync);
        group.MapGet("/{tag}/fleet_telemetry_errors", ErrorsAsync);
        return group;
    }

    /// <summary>
    /// Verifies the token against the key the app registered in the owner's region. A forged or damaged token is refused
    /// (400, the simulator's own answer). A sound token signed by another key is accepted, as Tesla did when a proxy ran
    /// with the wrong private key: the car then reports "InvalidSignature: unknown issuer" (teslamotors/fleet-telemetry#303)
    /// and holds no config for the app. The simulator reports it at once instead of at the car's next connection.
    /// </summary>
    internal static async Task<IResult> ConfigureJwsAsync(HttpContext ctx, FleetGate gate, SimulatorState state, PartnerRegistry registry, SimulatorOptions options)
    {
        var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.VehicleDeviceData);
        if (error is not null) return error;
        var request = await PartnerEndpoints.ReadJsonAsync(ctx);
        var vins = Vins(ctx, request);
        if (request?["token"] is not JsonValue t || !t.TryGetValue<string>(out var token)) return FleetGate.Envelope(400, "token is required");
        lock (state.Gate)
        {
            var account = caller!.Account!;
            if (!registry.Registrations.TryGetValue((caller.ClientId, account.Region), out var registration))
                return NotRegistered(caller.ClientId, options.RegionBase(account.Region));
            var check = TelemetryJwsVerifier.Verify(token, registration.PublicKey);
            if (check.Failure is not (JwsFailure.None or JwsFailure.UnknownIssuer)) return FleetGate.Envelope(400, $"invalid token: {check.Reason}");
            var (config, invalid) = TelemetryConfig.Parse(caller.ClientId, check.Claims!, state.Now);
            if (config is null) return FleetGate.Envelope(422, invalid!);
            return Configure(state, account, registration, vins, config, JwsMinimumFirmware, unknownIssuer: !check.Valid);
        }
    }

    /// <summary>Legacy: apps with a Tesla-issued certificate (CSR) send the config unsigned.</summary>
    internal static async Task<IResult> ConfigureDirectAsync(HttpContext ctx, FleetGate gate, SimulatorState state, PartnerRegistry registry)
    {
        var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.VehicleDeviceData);
        if (error is not null) return error;
        var request = await PartnerEndpoints.ReadJsonAsync(ctx);
        var vins = Vins(ctx, request);
        if (request?["config"] is not JsonObject json) return FleetGate.Envelope(422, "config is required");
        lock (state.Gate)
        {
            var (config, invalid) = TelemetryConfig.Parse(caller!.ClientId, json, state.Now);
            if (config is null) return FleetGate.Envelope(422, invalid!);
            registry.Registrations.TryGetValue((caller.ClientId, caller.Account!.Region), out var registration);
            return Configure(state, caller.Account, registration, vins, config, DirectMinimumFirmware, unknownIssuer: false);
        }
    }

    /// <summary>Per car: skip it for the first reason that applies, otherwise store the config (synced at once if awake).</summary>
    private static IResult Configure(SimulatorState state, SimAccount account, PartnerRegistration? registration, List<string> vins,
        TelemetryConfig config, Version minimumFirmware, bool unknownIssuer)
    {
        var body = Fixture.Object("fleet_telemetry_config_create_response");
        var response = body["response"]!.AsObject();
        var updated = 0;
        foreach (var vin in vins.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (state.Vehicle(account, vin) is not { } v) continue; // not the account's car: ignored [assumed]
            if (SkipReason(v, config.ClientId, registration, minimumFirmware) is { } reason)
            {
                response["skipped_vehicles"]![reason]!.AsArray().Add(v.Vin);
                continue;
            }
            updated++;
            if (unknownIssuer)
            {
                v.TelemetryConfigs.Remove(config.ClientId); // the target config was replaced by one the car cannot load
                v.TelemetryErrors.Add(new TelemetryError(config.ClientId, "config_manager_error",
                    "error loading config file: InvalidSignature: unknown issuer", state.Now, Guid.NewGuid().ToString()));
                continue;
            }
            v.TelemetryConfigs[config.ClientId] = config with { SyncedAt = v.IsAwake ? state.Now : null };
        }
        response["updated_vehicles"] = updated;
        return TypedResults.Json(body);
    }

    private static string? SkipReason(SimVehicle v, string clientId, PartnerRegistration? registration, Version minimumFirmware)
    {
        if (v.Seed.LegacyHardware) return "unsupported_hardware";
        if (!Version.TryParse(v.Seed.FirmwareVersion, out var firmware) || firmware < minimumFirmware) return "unsupported_firmware";
        if (registration is null || !v.VirtualKeys.Any(k => k.PublicKey == registration.PublicKey)) return "missing_key";
        return LimitReached(v, clientId) ? "max_configs" : null;
    }

    /// <summary>Other apps fill every slot, so this app cannot add a config (replacing its own is always allowed).</summary>
    private static bool LimitReached(SimVehicle v, string clientId) =>
        !v.TelemetryConfigs.ContainsKey(clientId) && v.TelemetryConfigs.Keys.Count(app => app != clientId) >= MaxConfigsPerVehicle;

    /// <summary>The caller's config; the car adopts a pending one once it is awake.</summary>
    internal static async Task<IResult> GetAsync(HttpContext ctx, string tag, FleetGate gate, SimulatorState state, PartnerRegistry registry)
    {
        var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.VehicleDeviceData);
        if (error is not null) return error;
        lock (state.Gate)
        {
            if (state.Vehicle(caller!.Account!, tag) is not { } v) return VehicleEndpoints.NotFound(ctx, tag);
            ctx.SetDevice(v.Vin);
            var mine = v.TelemetryConfigs.GetValueOrDefault(caller.ClientId);
            if (mine is { SyncedAt: null } && v.IsAwake) mine.SyncedAt = state.Now;
            var body = Fixture.Object("fleet_telemetry_config_get_response");
            var r = body["response"]!.AsObject();
            r["synced"] = mine?.SyncedAt is not null;
            r["config"] = mine?.ToJson();
            r["limit_reached"] = LimitReached(v, caller.ClientId);
            r["key_paired"] = registry.IsPaired(v, caller.ClientId);
            return TypedResults.Json(body);
        }
    }

    /// <summary>Removes the caller's config. Tesla's answer is <c>updated_vehicles: 1</c> (Tessie's API docs); 0 when there was none is assumed.</summary>
    internal static async Task<IResult> DeleteAsync(HttpContext ctx, string tag, FleetGate gate, SimulatorState state)
    {
        var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.VehicleDeviceData);
        if (error is not null)
        {
            // "With a partner token it works on any vehicle" (TESLA.md §8.1): how an app cleans up after an owner is gone.
            var asPartner = await gate.CheckAsync(ctx, checkRegion: false, partner: true);
            if (asPartner.Error is not null) return error;
            caller = asPartner.Caller;
        }
        lock (state.Gate)
        {
            var car = caller!.Account is { } owner ? state.Vehicle(owner, tag)
                : state.AllVehicles.FirstOrDefault(x => x.Vin.Equals(tag, StringComparison.OrdinalIgnoreCase) || x.Seed.Id.ToString() == tag);
            if (car is not { } v) return VehicleEndpoints.NotFound(ctx, tag);
            ctx.SetDevice(v.Vin);
            var removed = v.TelemetryConfigs.Remove(caller.ClientId);
            return TypedResults.Json(new JsonObject { ["response"] = new JsonObject { ["updated_vehicles"] = removed ? 1 : 0 } });
        }
    }

    /// <summary>Errors the car reported about the caller's config, in the shape of real entries (teslamotors/fleet-telemetry#303).</summary>
    internal static async Task<IResult> ErrorsAsync(HttpContext ctx, string tag, FleetGate gate, SimulatorState state)
    {
        var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.VehicleDeviceData);
        if (error is not null) return error;
        lock (state.Gate)
        {
            if (state.Vehicle(caller!.Account!, tag) is not { } v) return VehicleEndpoints.NotFound(ctx, tag);
            ctx.SetDevice(v.Vin);
            var errors = v.TelemetryErrors.Where(e => e.ClientId == caller.ClientId).Select(e => (JsonNode)new JsonObject
            {
                ["created_at"] = e.CreatedAt.UtcDateTime.ToString("O"), ["error"] = e.Error, ["error_name"] = e.ErrorName,
                ["name"] = e.ClientId, ["txID"] = e.TxId, ["vin"] = v.Vin,
            });
            return TypedResults.Json(new JsonObject { ["response"] = new JsonObject { ["fleet_telemetry_errors"] = new JsonArray([.. errors]) } });
        }
    }

    private static IResult NotRegistered(string clientId, string regionBase)
    {
        var body = Fixture.Object("error_412_account_not_registered");
        body["error"] = $"Account {clientId} must be registered in the current region {regionBase}, please see https://developer.tesla.com/docs/fleet-api/endpoints/partner-endpoints#register";
        return TypedResults.Json(body, statusCode: 412);
    }

    private static List<string> Vins(HttpContext ctx, JsonNode? request)
    {
        var vins = request?["vins"] is JsonArray array
            ? array.Select(v => v is JsonValue s && s.TryGetValue<string>(out var vin) ? vin : "").Where(v => v != "").ToList()
            : [];
        if (vins.Count == 1) ctx.SetDevice(vins[0]);
        return vins;
    }
}

using System.Text.Json.Nodes;
using TeslaSimulator.Auth;
using TeslaSimulator.Control;
using TeslaSimulator.Fixtures;
using TeslaSimulator.Hosting;
using TeslaSimulator.State;

namespace TeslaSimulator.Fleet;

/// <summary>Partner registrations and telemetry configs; guarded by the state gate like everything else.</summary>
internal sealed class PartnerRegistry
{
    public Dictionary<(string ClientId, string Region), string> Registrations { get; } = [];
    public Dictionary<string, JsonNode> TelemetryConfigs { get; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>Partner registration (per region), the public-key check, fleet_status and fleet_telemetry_config.</summary>
internal static class PartnerEndpoints
{
    public static IEndpointRouteBuilder MapPartner(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/1/partner_accounts", async (HttpContext ctx, FleetGate gate, SimulatorState state, SimulatorOptions options, PartnerRegistry registry) =>
        {
            var (caller, error) = await gate.CheckAsync(ctx, checkRegion: false, partner: true);
            if (error is not null) return error;
            var domain = (await ReadJsonAsync(ctx))?["domain"]?.GetValue<string>();
            if (string.IsNullOrWhiteSpace(domain)) return FleetGate.Envelope(422, "domain is required");
            lock (state.Gate) registry.Registrations[(caller!.ClientId, options.RegionOf(ctx.Request) ?? "na")] = domain;
            var body = Fixture.Object("partner_register_response");
            body["response"]!["client_id"] = caller.ClientId;
            body["response"]!["domain"] = domain;
            return TypedResults.Json(body);
        });

        app.MapGet("/api/1/partner_accounts/public_key", async (HttpContext ctx, string? domain, FleetGate gate, SimulatorState state, PartnerRegistry registry) =>
        {
            var (_, error) = await gate.CheckAsync(ctx, checkRegion: false, partner: true);
            if (error is not null) return error;
            lock (state.Gate)
                return registry.Registrations.ContainsValue(domain ?? "") ? Fixture.Result("partner_public_key_response", 200) : FleetGate.Envelope(404, "not_found");
        });

        app.MapPost("/api/1/vehicles/fleet_status", async (HttpContext ctx, FleetGate gate, SimulatorState state) =>
        {
            var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.VehicleDeviceData);
            if (error is not null) return error;
            var vins = (await ReadJsonAsync(ctx))?["vins"]?.AsArray().Select(v => v?.GetValue<string>() ?? "").ToList() ?? [];
            lock (state.Gate)
            {
                var owned = vins.Select(v => state.Vehicle(caller!.Account!, v)).OfType<SimVehicle>().ToList();
                var info = new JsonObject();
                foreach (var v in owned)
                    info[v.Vin] = new JsonObject
                    {
                        ["firmware_version"] = v.Seed.FirmwareVersion,
                        ["vehicle_command_protocol_required"] = v.Seed.CommandProtocolRequired,
                        ["discounted_device_data"] = false,
                        ["fleet_telemetry_version"] = "1.0.0",
                        ["total_number_of_keys"] = 5,
                    };
                // No virtual key is ever paired in the simulator: pairing needs the Tesla app.
                return TypedResults.Json(new JsonObject { ["response"] = new JsonObject
                {
                    ["key_paired_vins"] = new JsonArray(),
                    ["unpaired_vins"] = new JsonArray([.. owned.Select(v => (JsonNode)v.Vin)]),
                    ["vehicle_info"] = info,
                } });
            }
        });

        app.MapPost("/api/1/vehicles/fleet_telemetry_config", async (HttpContext ctx, FleetGate gate, SimulatorState state, PartnerRegistry registry) =>
        {
            var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.VehicleDeviceData);
            if (error is not null) return error;
            var request = await ReadJsonAsync(ctx);
            if (request?["config"] is not JsonObject config) return FleetGate.Envelope(422, "config is required");
            var vins = request["vins"]?.AsArray().Select(v => v?.GetValue<string>() ?? "").ToList() ?? [];
            lock (state.Gate)
            {
                var owned = vins.Where(v => state.Vehicle(caller!.Account!, v) is not null).ToList();
                foreach (var vin in owned) registry.TelemetryConfigs[vin] = config.DeepClone();
                var body = Fixture.Object("fleet_telemetry_config_create_response");
                body["response"]!["updated_vehicles"] = owned.Count;
                return TypedResults.Json(body);
            }
        });

        app.MapGet("/api/1/vehicles/{vin}/fleet_telemetry_config", (HttpContext ctx, string vin, FleetGate gate, SimulatorState state, PartnerRegistry registry) =>
            TelemetryAsync(ctx, vin, gate, state, registry, remove: false));
        app.MapDelete("/api/1/vehicles/{vin}/fleet_telemetry_config", (HttpContext ctx, string vin, FleetGate gate, SimulatorState state, PartnerRegistry registry) =>
            TelemetryAsync(ctx, vin, gate, state, registry, remove: true));
        return app;
    }

    private static async Task<IResult> TelemetryAsync(HttpContext ctx, string vin, FleetGate gate, SimulatorState state, PartnerRegistry registry, bool remove)
    {
        var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.VehicleDeviceData);
        if (error is not null) return error;
        lock (state.Gate)
        {
            if (state.Vehicle(caller!.Account!, vin) is not { } v) return VehicleEndpoints.NotFound(ctx, vin);
            ctx.SetDevice(v.Vin);
            if (remove)
            {
                registry.TelemetryConfigs.Remove(v.Vin);
                return TypedResults.Json(new JsonObject { ["response"] = new JsonObject { ["updated_vehicles"] = 1 } });
            }
            var body = Fixture.Object("fleet_telemetry_config_get_response");
            var r = body["response"]!.AsObject();
            r["config"] = registry.TelemetryConfigs.TryGetValue(v.Vin, out var c) ? c.DeepClone() : null;
            r["synced"] = c is not null && v.IsAwake;
            r["key_paired"] = false;
            return TypedResults.Json(body);
        }
    }

    private static async Task<JsonNode?> ReadJsonAsync(HttpContext ctx)
    {
        try { return await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted); }
        catch (System.Text.Json.JsonException) { return null; }
    }
}

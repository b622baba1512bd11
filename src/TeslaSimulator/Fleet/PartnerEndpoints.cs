using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using TeslaSimulator.Auth;
using TeslaSimulator.Control;
using TeslaSimulator.Fixtures;
using TeslaSimulator.Hosting;
using TeslaSimulator.State;

namespace TeslaSimulator.Fleet;

/// <summary>Partner registration (per region), the public-key check and fleet_status (TESLA.md §4); telemetry configs live in Telemetry/.</summary>
internal static class PartnerEndpoints
{
    public static IEndpointRouteBuilder MapPartner(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/1/partner_accounts", RegisterAsync);

        app.MapGet("/api/1/partner_accounts/public_key", async (HttpContext ctx, string? domain, FleetGate gate, SimulatorState state, SimulatorOptions options, PartnerRegistry registry) =>
        {
            var (_, error) = await gate.CheckAsync(ctx, checkRegion: false, partner: true);
            if (error is not null) return error;
            lock (state.Gate)
            {
                if (registry.ByDomain(domain ?? "", options.RegionOf(ctx.Request) ?? "na") is not { } r) return FleetGate.Envelope(404, "not_found");
                var body = Fixture.Object("partner_public_key_response");
                body["response"]!["public_key"] = r.PublicKey;
                return TypedResults.Json(body);
            }
        });

        app.MapPost("/api/1/vehicles/fleet_status", async (HttpContext ctx, FleetGate gate, SimulatorState state, PartnerRegistry registry) =>
        {
            var (caller, error) = await gate.CheckAsync(ctx, checkRegion: true, partner: false, Scopes.VehicleDeviceData);
            if (error is not null) return error;
            var vins = (await ReadJsonAsync(ctx))?["vins"]?.AsArray().Select(v => v?.GetValue<string>() ?? "").ToList() ?? [];
            if (vins.Count == 1) ctx.SetDevice(vins[0]); // Tesla recommends one VIN per call: the ledger shows who asked that way
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
                var paired = owned.ToLookup(v => registry.IsPaired(v, caller!.ClientId), v => (JsonNode)v.Vin);
                return TypedResults.Json(new JsonObject { ["response"] = new JsonObject
                {
                    ["key_paired_vins"] = new JsonArray([.. paired[true]]),
                    ["unpaired_vins"] = new JsonArray([.. paired[false]]),
                    ["vehicle_info"] = info,
                } });
            }
        });

        return app;
    }

    /// <summary>Like Tesla: validate the domain, download and check its public key, then store it for this app and region.</summary>
    internal static async Task<IResult> RegisterAsync(HttpContext ctx, FleetGate gate, SimulatorState state, SimulatorOptions options,
        PartnerRegistry registry, PartnerKeyDownloader downloader)
    {
        var (caller, error) = await gate.CheckAsync(ctx, checkRegion: false, partner: true);
        if (error is not null) return error;
        var domain = (await ReadJsonAsync(ctx))?["domain"] is JsonValue v && v.TryGetValue<string>(out var d) ? d : null;
        if (string.IsNullOrWhiteSpace(domain)) return FleetGate.Envelope(422, "domain is required");
        if (!IsHostName(domain))
            return FleetGate.Envelope(422, $"Invalid domain: {domain}. Ensure that domain is lowercase and starts without https://");

        // Downloaded outside the state lock: the partner's server may be slow (or be the caller itself, in-process).
        var key = await downloader.DownloadAsync(domain, ctx.RequestAborted);
        if (key.Error is not null) return FleetGate.Envelope(424, key.Error, txid: true);

        PartnerRegistration registration;
        lock (state.Gate)
        {
            var id = (ClientId: caller!.ClientId, Region: options.RegionOf(ctx.Request) ?? "na");
            var created = registry.Registrations.TryGetValue(id, out var old) ? old.CreatedAt : state.Now;
            registry.Registrations[id] = registration = new PartnerRegistration(id.ClientId, id.Region, domain, key.PublicKey!, created, state.Now);
        }
        var body = Fixture.Object("partner_register_response");
        var r = body["response"]!;
        r["client_id"] = registration.ClientId;
        r["name"] = state.Clients.TryGetValue(registration.ClientId, out var client) ? client.Name : registration.ClientId;
        r["domain"] = registration.Domain;
        r["public_key"] = registration.PublicKey;
        // Tesla's hash algorithm is undocumented; 16 bytes of SHA-256 gives the same 32-hex shape.
        r["public_key_hash"] = Convert.ToHexStringLower(SHA256.HashData(Convert.FromHexString(registration.PublicKey))[..16]);
        r["created_at"] = Timestamp(registration.CreatedAt);
        r["updated_at"] = Timestamp(registration.UpdatedAt);
        return TypedResults.Json(body);
    }

    /// <summary>Tesla wants a bare, lowercase host name: no scheme, port, path or IP address.</summary>
    public static bool IsHostName(string domain) =>
        domain == domain.ToLowerInvariant() && domain.Length <= 253 && Uri.CheckHostName(domain) == UriHostNameType.Dns;

    private static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    internal static async Task<JsonNode?> ReadJsonAsync(HttpContext ctx)
    {
        try { return await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted); }
        catch (System.Text.Json.JsonException) { return null; }
    }
}

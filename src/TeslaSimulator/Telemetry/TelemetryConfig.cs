using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace TeslaSimulator.Telemetry;

/// <summary>One field of a config: <c>interval_seconds</c>, <c>minimum_delta</c>, <c>resend_interval_seconds</c> (TESLA.md §8.1).</summary>
internal sealed record TelemetryFieldConfig(int IntervalSeconds, double? MinimumDelta, int? ResendIntervalSeconds);

/// <summary>
/// A Fleet Telemetry config a car holds for one app (<see cref="ClientId"/>). <see cref="SyncedAt"/> is when the car
/// adopted it: null until the car is awake after the config was stored ("synced set to false means the vehicle will
/// attempt to adopt the target config when it next establishes a backend connection", Tesla's vehicle endpoints page).
/// </summary>
internal sealed record TelemetryConfig(string ClientId, string Hostname, int Port, string? Ca, long Exp,
    IReadOnlyDictionary<string, TelemetryFieldConfig> Fields, DateTimeOffset ConfiguredAt)
{
    public DateTimeOffset? SyncedAt { get; set; }

    /// <summary>The config as Tesla's GET answers it (the fields it was sent with; unknown options are not kept).</summary>
    public JsonObject ToJson() => new()
    {
        ["hostname"] = Hostname,
        ["ca"] = Ca,
        ["port"] = Port,
        ["exp"] = Exp,
        ["fields"] = new JsonObject(Fields.Select(f => KeyValuePair.Create(f.Key, (JsonNode?)FieldJson(f.Value)))),
    };

    private static JsonObject FieldJson(TelemetryFieldConfig f)
    {
        var json = new JsonObject { ["interval_seconds"] = f.IntervalSeconds };
        if (f.MinimumDelta is { } delta) json["minimum_delta"] = delta;
        if (f.ResendIntervalSeconds is { } resend) json["resend_interval_seconds"] = resend;
        return json;
    }

    /// <summary>
    /// Reads a config (or a JWS's claims). Tesla's answers to a bad config were not found in any source; the checks
    /// (hostname, numeric port, at least one field with a positive interval) are the simulator's own.
    /// </summary>
    public static (TelemetryConfig? Config, string? Error) Parse(string clientId, JsonObject config, DateTimeOffset now)
    {
        if (Text(config["hostname"]) is not { Length: > 0 } hostname) return (null, "hostname is required");
        var port = config["port"] is null ? 443 : Integer(config["port"]) ?? 0;
        if (port is < 1 or > 65535) return (null, "port must be a number from 1 to 65535");
        if (config["fields"] is not JsonObject fieldsJson || fieldsJson.Count == 0) return (null, "fields must name at least one field");

        var fields = new Dictionary<string, TelemetryFieldConfig>(StringComparer.Ordinal);
        foreach (var (name, value) in fieldsJson)
        {
            if (value is not JsonObject f || Integer(f["interval_seconds"]) is not { } interval || interval < 1)
                return (null, $"fields.{name}.interval_seconds must be a positive number");
            fields[name] = new TelemetryFieldConfig((int)interval, Number(f["minimum_delta"]), (int?)Integer(f["resend_interval_seconds"]));
        }
        return (new TelemetryConfig(clientId, hostname, (int)port, Text(config["ca"]), Integer(config["exp"]) ?? 0, fields, now), null);
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static double? Number(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number
        ? double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture) : null;

    /// <summary>A whole number; like Go's float64 claims, 443.0 counts as 443 and "443" (a string) does not.</summary>
    private static long? Integer(JsonNode? node) => Number(node) is { } d && d == Math.Floor(d) && Math.Abs(d) < 1e15 ? (long)d : null;
}

/// <summary>
/// A problem a car reported about an app's config, listed by <c>fleet_telemetry_errors</c>. Real entries carry
/// <c>created_at, error, error_name, name, txID, vin</c> (teslamotors/fleet-telemetry#303, #406); that <c>name</c> is the
/// app's client id is the simulator's reading of those entries.
/// </summary>
internal sealed record TelemetryError(string ClientId, string ErrorName, string Error, DateTimeOffset CreatedAt, string TxId);

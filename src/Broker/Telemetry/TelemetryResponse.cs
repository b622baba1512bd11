using Broker.Accounts;

namespace Broker.Telemetry;

/// <summary>
/// A car's streaming state in the accounts API and the console: <c>streaming</c> (not polled for vehicle_data),
/// <c>configured_not_synced</c> (Tesla holds the config; the car takes it at its next connection), <c>skipped</c> with Tesla's
/// reason (<c>missing_key</c>, <c>unsupported_firmware</c>, <c>unsupported_hardware</c>, <c>max_configs</c>), or <c>polling</c>
/// (streaming off, not configured yet, or its stream went quiet: <c>Reason</c> says which).
/// </summary>
public sealed record TelemetryResponse(
    string Status, string? Reason, DateTimeOffset? Since, string[] Fields, bool? Connected, DateTimeOffset? LastSignalAt, DateTimeOffset? ExpiresAt)
{
    public static TelemetryResponse Of(VehicleTelemetry? t, TelemetrySetup setup, DateTimeOffset now, AccountStatus account) => t switch
    {
        _ when account == AccountStatus.Revoked && t is null or { DeletePending: false } =>
            new("polling", "account revoked: neither streamed nor polled", t?.Since, [], null, null, null),
        null => new("polling", setup.Enabled ? "not configured yet" : "streaming is off (Telemetry settings)", null, [], null, null, null),
        { DeletePending: true } => new("polling", "account revoked; config being deleted at Tesla", t.Since, [], null, null, null),
        { Status: TelemetryStatus.Streaming } when !setup.IsStreaming(t, now) =>
            new("polling", "stream quiet: no connection or field lately", t.Since, t.Fields, t.Connected, t.LastSignalAt, t.ExpiresAt),
        _ => new(Name(t.Status), t.SkipReason, t.Since, t.Fields, t.Connected, t.LastSignalAt, t.ExpiresAt),
    };

    public static string Name(TelemetryStatus s) => s switch
    {
        TelemetryStatus.Streaming => "streaming",
        TelemetryStatus.ConfiguredNotSynced => "configured_not_synced",
        TelemetryStatus.Skipped => "skipped",
        _ => "polling",
    };
}

namespace Broker.Tesla;

/// <summary>
/// Tesla's verdict on the developer app itself, per auth realm (<c>global</c>, or <c>cn</c> for China's own app): over
/// its billing limit (403 <c>account disabled: EXCEEDED_LIMIT</c>, teslamotors/vehicle-command#403) or unpaid (402,
/// documented only). It concerns every tenant at once, unlike a per-device 403: see <see cref="TeslaAppGuard"/>.
/// </summary>
public sealed class TeslaAppState
{
    public required string Realm { get; set; }
    /// <summary>Null while Tesla accepts the app.</summary>
    public DateTimeOffset? DisabledSince { get; set; }
    public int? Status { get; set; }
    public string? Error { get; set; }
    /// <summary>The one call allowed while disabled goes out at this time (then it moves on by the probe interval).</summary>
    public DateTimeOffset? NextProbeAt { get; set; }
}

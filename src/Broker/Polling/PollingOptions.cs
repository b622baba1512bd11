using System.ComponentModel.DataAnnotations;

namespace Broker.Polling;

/// <summary>
/// How often Tesla is asked. Defaults follow TeslaMate's sleep-friendly rules, scaled for a
/// pay-per-call API: vehicle_data costs $0.002 and keeps the car awake, the vehicle list is free
/// and never wakes it (TESLA.md §5, §7).
/// </summary>
public sealed class PollingOptions
{
    public const string SectionName = "Polling";

    /// <summary>
    /// vehicle_data while driving (shift state D/R/N or moving). 45 s still reads a moving car more often than a
    /// fixed 60 s poller, and keeps the default policy under a quarter of that poller's Fleet API bill (bench/FleetDay:
    /// 0.23× at 45 s, 0.26× at 30 s). Lower it per deployment for tighter tracks; each read of a driving car is billed.
    /// </summary>
    [Range(5, 3600)] public int DrivingIntervalSeconds { get; set; } = 45;
    /// <summary>vehicle_data while charging.</summary>
    [Range(5, 3600)] public int ChargingIntervalSeconds { get; set; } = 60;
    /// <summary>vehicle_data while online and parked.</summary>
    [Range(5, 3600)] public int ParkedIntervalSeconds { get; set; } = 120;
    /// <summary>The vehicle list (free, never wakes) while asleep, offline or suspended.</summary>
    [Range(5, 3600)] public int ListIntervalSeconds { get; set; } = 60;
    /// <summary>A parked car not in use for this long is left alone so it can sleep...</summary>
    [Range(1, 240)] public int IdleMinutesBeforeSuspend { get; set; } = 15;
    /// <summary>...for this long (TeslaMate's 21 minutes), watched only through the free list.</summary>
    [Range(1, 240)] public int SuspendMinutes { get; set; } = 21;
    /// <summary>live_status of energy sites (not billed).</summary>
    [Range(10, 3600)] public int EnergyIntervalSeconds { get; set; } = 60;
    /// <summary>Ceiling of the back-off after failures (5xx, timeouts).</summary>
    [Range(30, 86400)] public int MaxBackoffSeconds { get; set; } = 900;
    /// <summary>Readings older than this leave the metrics instead of freezing there.</summary>
    [Range(1, 10080)] public int StaleAfterMinutes { get; set; } = 60;
    /// <summary>Devices are re-read from /api/1/products (free) this often, and at every connect: accounts gain and lose cars and sites.</summary>
    [Range(1, 720)] public int ProductsIntervalHours { get; set; } = 24;
    /// <summary>While Tesla has disabled the app (billing limit, 402), one call probes it this often; nothing else is called.</summary>
    [Range(1, 1440)] public int DisabledAppProbeMinutes { get; set; } = 30;
    /// <summary>When Tesla refuses an account's token even after a refresh, the account waits at least this long, doubling up to 6 h.</summary>
    [Range(1, 1440)] public int RejectedTokenRetryMinutes { get; set; } = 15;
    // Waking is each tenant's choice: Tenant.WakeAfterSleepMinutes (PUT /api/v1/policy), off by default.
}

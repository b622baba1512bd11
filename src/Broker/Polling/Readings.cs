namespace Broker.Polling;

/// <summary>
/// The latest known state of one vehicle, plus where its polling stands. Stored in Postgres so
/// every replica serves the same series and a restarted replica picks up where another left off.
/// Units are Tesla's (miles, mph, kW, kWh, °C); the metrics convert to base units.
/// </summary>
public sealed class VehicleReading
{
    public Guid VehicleId { get; set; }
    public Guid AccountId { get; set; }
    public Guid TenantId { get; set; }

    /// <summary>online, asleep or offline, as the vehicle list last said.</summary>
    public string State { get; set; } = "unknown";
    public DateTimeOffset StateSince { get; set; }
    public DateTimeOffset? LastSeenAt { get; set; }
    public DateTimeOffset? DataAt { get; set; }

    public int? BatteryLevel { get; set; }
    public int? UsableBatteryLevel { get; set; }
    public double? BatteryRangeMiles { get; set; }
    public string? ChargingState { get; set; }
    public double? ChargerPowerKw { get; set; }
    public int? ChargeLimitSoc { get; set; }
    /// <summary>The charging current the car is set to, and the most it accepts (charge_current_request, _max).</summary>
    public int? ChargeCurrentRequest { get; set; }
    public int? ChargeCurrentRequestMax { get; set; }
    public double? ChargeEnergyAddedKwh { get; set; }
    public double? OdometerMiles { get; set; }
    public double? InsideTempC { get; set; }
    public double? OutsideTempC { get; set; }
    public bool? Locked { get; set; }
    public bool? SentryMode { get; set; }
    public string? ShiftState { get; set; }
    public double? SpeedMph { get; set; }
    public double? PowerKw { get; set; }
    public double? Latitude { get; set; }
    public double? Longitude { get; set; }
    public double? Heading { get; set; }
    public bool? UserPresent { get; set; }
    public bool? ClimateOn { get; set; }
    public bool? Preconditioning { get; set; }
    public bool? DoorsOpen { get; set; }
    public string? SoftwareUpdateStatus { get; set; }
    public string? CarType { get; set; }
    public string? FirmwareVersion { get; set; }

    // Polling state (see VehiclePolicy).
    public DateTimeOffset NextPollAt { get; set; }
    /// <summary>When the car was last seen doing nothing (parked, not in use); null while in use.</summary>
    public DateTimeOffset? IdleSince { get; set; }
    /// <summary>No vehicle_data before this, so an idle car can fall asleep.</summary>
    public DateTimeOffset? SuspendedUntil { get; set; }
    /// <summary>Tesla's Retry-After for this device: no call before it.</summary>
    public DateTimeOffset? RetryAfter { get; set; }
    public DateTimeOffset? LastWakeAt { get; set; }
    public int ConsecutiveFailures { get; set; }
    public string? LastError { get; set; }
}

public sealed class EnergySiteReading
{
    public Guid EnergySiteId { get; set; }
    public Guid AccountId { get; set; }
    public Guid TenantId { get; set; }
    public DateTimeOffset? DataAt { get; set; }
    public double? SolarPowerW { get; set; }
    public double? BatteryPowerW { get; set; }
    public double? LoadPowerW { get; set; }
    public double? GridPowerW { get; set; }
    public double? PercentageCharged { get; set; }
    public double? EnergyLeftWh { get; set; }
    public double? TotalPackEnergyWh { get; set; }
    public string? GridStatus { get; set; }
    public string? IslandStatus { get; set; }
    public bool? StormModeActive { get; set; }
    public DateTimeOffset NextPollAt { get; set; }
    public DateTimeOffset? RetryAfter { get; set; }
    public int ConsecutiveFailures { get; set; }
    public string? LastError { get; set; }
}

/// <summary>
/// Fleet API calls per account, device, billing category and month, with their estimated cost (TESLA.md §7).
/// Kept in Postgres so the counters survive restarts and agree across replicas; /metrics sums the months.
/// </summary>
public sealed class ApiUsage
{
    public Guid AccountId { get; set; }
    public Guid TenantId { get; set; }
    /// <summary>The VIN or energy site id the call was about; empty for account-wide calls (list, products, region).</summary>
    public string Device { get; set; } = "";
    /// <summary>data, command, wake or free.</summary>
    public required string Category { get; set; }
    /// <summary>Tesla bills every answer below 500.</summary>
    public bool Billable { get; set; }
    /// <summary>The first day (UTC) of the calendar month the calls were made in: Tesla bills by month.</summary>
    public DateOnly Month { get; set; }
    public long Calls { get; set; }
    public decimal CostUsd { get; set; }
}

/// <summary>
/// Fleet API attempts that failed, per account, reason (rate_limited, server_error, timeout, malformed, ...)
/// and HTTP status (0: no answer). Kept beside <see cref="ApiUsage"/> so every replica reports the same.
/// </summary>
public sealed class ApiFailure
{
    public Guid AccountId { get; set; }
    public Guid TenantId { get; set; }
    public required string Reason { get; set; }
    public int Status { get; set; }
    public long Calls { get; set; }
}

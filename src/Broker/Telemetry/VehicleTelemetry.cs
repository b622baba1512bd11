namespace Broker.Telemetry;

public enum TelemetryStatus
{
    /// <summary>Not streaming (streaming off, no partner key, not configured yet, or given up): polled for vehicle_data.</summary>
    Polling,
    /// <summary>Tesla accepted the config; the car adopts it at its next connection. Polled meanwhile.</summary>
    ConfiguredNotSynced,
    /// <summary>The car holds the config: never polled for vehicle_data while its stream is healthy.</summary>
    Streaming,
    /// <summary>Tesla skipped the car (<see cref="VehicleTelemetry.SkipReason"/>): polled.</summary>
    Skipped,
}

/// <summary>
/// Where one car's Fleet Telemetry stands, and what its stream last said. One row per vehicle, written by the config step of
/// each account poll (<see cref="TelemetrySetup"/>) and by the MQTT ingest (<see cref="TelemetryIngest"/>).
/// </summary>
public sealed class VehicleTelemetry
{
    public Guid VehicleId { get; set; }
    public Guid AccountId { get; set; }
    public Guid TenantId { get; set; }
    public string Vin { get; set; } = "";
    public TelemetryStatus Status { get; set; }
    /// <summary>missing_key, unsupported_firmware, unsupported_hardware or max_configs (Tesla's words), or why configuring failed.</summary>
    public string? SkipReason { get; set; }
    /// <summary>When <see cref="Status"/> last changed.</summary>
    public DateTimeOffset Since { get; set; }
    public DateTimeOffset? ConfiguredAt { get; set; }
    /// <summary>The config's <c>exp</c>: renewed before it runs out.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }
    /// <summary>When Tesla's GET fleet_telemetry_config was last asked (sync and key checks).</summary>
    public DateTimeOffset? CheckedAt { get; set; }
    /// <summary>The fields the config asks for.</summary>
    public string[] Fields { get; set; } = [];
    /// <summary>The last connectivity event: true CONNECTED, false DISCONNECTED, null none yet.</summary>
    public bool? Connected { get; set; }
    public DateTimeOffset? ConnectivityAt { get; set; }
    public DateTimeOffset? LastSignalAt { get; set; }
    public long Signals { get; set; }
    /// <summary>
    /// The last streamed value of each charger's fields. Fleet Telemetry reports AC and DC apart, the reading has one charger
    /// power and one energy-added column: kept apart here, the idle charger's 0 (resent with the other's value, in an order
    /// no document gives) cannot overwrite the charging one's (<see cref="TelemetryFields"/>).
    /// </summary>
    public double? AcChargingPowerKw { get; set; }
    public double? DcChargingPowerKw { get; set; }
    public double? AcChargingEnergyInKwh { get; set; }
    public double? DcChargingEnergyInKwh { get; set; }
    /// <summary>The account was revoked: its configs are deleted at Tesla (with the partner token), then this row goes.</summary>
    public bool DeletePending { get; set; }
}

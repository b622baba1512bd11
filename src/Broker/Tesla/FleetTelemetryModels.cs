using System.Text.Json.Serialization;

namespace Broker.Tesla;

/// <summary>
/// The answer to <c>fleet_telemetry_config(_jws)</c> (TESLA.md §8.1): how many cars took the config, and the VINs Tesla
/// skipped by reason.
/// </summary>
public sealed record TelemetryConfigureResult(
    [property: JsonPropertyName("updated_vehicles")] int UpdatedVehicles,
    [property: JsonPropertyName("skipped_vehicles")] TelemetrySkippedVehicles? SkippedVehicles);

/// <summary>Why cars were skipped: no virtual key, pre-2021 Model S/X, firmware too old, or the car's app slots are full.</summary>
public sealed record TelemetrySkippedVehicles(
    [property: JsonPropertyName("missing_key")] IReadOnlyList<string>? MissingKey,
    [property: JsonPropertyName("unsupported_hardware")] IReadOnlyList<string>? UnsupportedHardware,
    [property: JsonPropertyName("unsupported_firmware")] IReadOnlyList<string>? UnsupportedFirmware,
    [property: JsonPropertyName("max_configs")] IReadOnlyList<string>? MaxConfigs);

/// <summary>
/// <c>GET …/fleet_telemetry_config</c>: <see cref="Synced"/> false means the car adopts the config at its next backend
/// connection; <see cref="Config"/> is null when the app has no config on the car.
/// </summary>
public sealed record TelemetryConfigStatus(
    [property: JsonPropertyName("synced")] bool Synced,
    [property: JsonPropertyName("config")] TelemetryConfigSummary? Config,
    [property: JsonPropertyName("limit_reached")] bool LimitReached,
    [property: JsonPropertyName("key_paired")] bool KeyPaired);

/// <summary>The parts of a stored config the broker reads back: where the car streams to, and until when.</summary>
public sealed record TelemetryConfigSummary(
    [property: JsonPropertyName("hostname")] string? Hostname,
    [property: JsonPropertyName("port")] int? Port,
    [property: JsonPropertyName("exp")] long? Exp);

/// <summary>One entry of <c>fleet_telemetry_errors</c>, e.g. <c>config_manager_error</c> "error loading config file: …".</summary>
public sealed record TelemetryError(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("error_name")] string? ErrorName,
    [property: JsonPropertyName("vin")] string? Vin,
    [property: JsonPropertyName("created_at")] DateTimeOffset? CreatedAt);

internal sealed record TelemetryErrors([property: JsonPropertyName("fleet_telemetry_errors")] IReadOnlyList<TelemetryError>? Errors);

internal sealed record UpdatedVehicles([property: JsonPropertyName("updated_vehicles")] int Count);

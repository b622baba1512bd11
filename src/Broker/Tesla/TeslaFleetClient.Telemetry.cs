namespace Broker.Tesla;

/// <summary>
/// Fleet Telemetry configuration (TESLA.md §8.1). No pricing category was found for these endpoints, so they are counted
/// as not billed, like fleet_status; Tesla bills every answer below 500, so a wrong guess would show in its usage page.
/// </summary>
public sealed partial class TeslaFleetClient
{
    /// <summary>
    /// Sends a config signed with <see cref="Telemetry.TelemetryJws"/> to the cars. Never retried (a POST): the caller
    /// reads the cars' configs back to learn what happened after a lost answer.
    /// </summary>
    public async Task<TelemetryConfigureResult> ConfigureTelemetryAsync(FleetAccount account, IReadOnlyList<string> vins, string jws, CancellationToken ct) =>
        Read<TelemetryConfigureResult>(account, await SendAsync(account, HttpMethod.Post, "/api/1/vehicles/fleet_telemetry_config_jws",
            FleetCategory.Free, vins.Count == 1 ? vins[0] : null, ct, new { vins, token = jws }))
        ?? throw Malformed(account, "fleet_telemetry_config_jws answered without a response object.");

    /// <summary>The app's config on the car, whether the car has adopted it, and whether the car holds the app's key.</summary>
    public async Task<TelemetryConfigStatus> GetTelemetryConfigAsync(FleetAccount account, string vin, CancellationToken ct) =>
        Read<TelemetryConfigStatus>(account, await SendAsync(account, HttpMethod.Get, $"/api/1/vehicles/{vin}/fleet_telemetry_config", FleetCategory.Free, vin, ct))
        ?? throw Malformed(account, "fleet_telemetry_config answered without a response object.");

    /// <summary>Removes the app's config from the car; returns how many cars Tesla says it updated (1, or 0 when there was none).</summary>
    public async Task<int> DeleteTelemetryConfigAsync(FleetAccount account, string vin, CancellationToken ct) =>
        Read<UpdatedVehicles>(account, await SendAsync(account, HttpMethod.Delete, $"/api/1/vehicles/{vin}/fleet_telemetry_config", FleetCategory.Free, vin, ct))?.Count
        ?? throw Malformed(account, "fleet_telemetry_config delete answered without a response object.");

    /// <summary>What the car reported about the app's config (a bad signature shows here, not as a refused configure).</summary>
    public async Task<IReadOnlyList<TelemetryError>> GetTelemetryErrorsAsync(FleetAccount account, string vin, CancellationToken ct) =>
        Read<TelemetryErrors>(account, await SendAsync(account, HttpMethod.Get, $"/api/1/vehicles/{vin}/fleet_telemetry_errors", FleetCategory.Free, vin, ct))?.Errors
        ?? [];
}

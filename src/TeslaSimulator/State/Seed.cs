using System.Text.Json;

namespace TeslaSimulator.State;

/// <summary>The seed file: demo accounts, their devices and the registered OAuth clients.</summary>
internal sealed record Seed(List<SeedClient> Clients, List<SeedAccount> Accounts)
{
    public static Seed Load(string path) =>
        JsonSerializer.Deserialize<Seed>(File.ReadAllText(path), new JsonSerializerOptions(JsonSerializerDefaults.Web))
        ?? throw new InvalidOperationException($"Seed file {path} is empty.");
}

internal sealed record SeedClient(string ClientId, string? ClientSecret, string? Name, List<string> RedirectUris, string? Realm = null);

internal sealed record SeedAccount(
    string Email, string Password, string Sub, string Region, long UserId, string FullName, string Locale,
    List<SeedVehicle> Vehicles, List<SeedEnergySite> EnergySites);

/// <summary>
/// One car of the seed. <see cref="LegacyHardware"/> marks a pre-2021 Model S/X, which Fleet Telemetry does not support
/// (unsupported_hardware); <see cref="FirmwareVersion"/> below 2024.26 is unsupported_firmware (TESLA.md §8.1).
/// <see cref="MaxChargeAmps"/> is charge_current_request_max (48 A: an 11.5 kW wall connector at 240 V).
/// <see cref="SignedCommandsUnsupported"/> marks a car that predates the Vehicle Command Protocol: signed_command answers 422.
/// </summary>
internal sealed record SeedVehicle(
    long Id, long VehicleId, string Vin, string DisplayName, string CarType, string ExteriorColor,
    string State, double BatteryLevel, int ChargeLimit, double Odometer, double Latitude, double Longitude,
    int Heading, bool PluggedIn, double ChargerPowerKw = 11, double PackKwh = 75, int TripMinutes = 40,
    bool CommandProtocolRequired = false, string FirmwareVersion = "2024.44.25", bool LegacyHardware = false,
    int MaxChargeAmps = 48, bool SignedCommandsUnsupported = false);

internal sealed record SeedEnergySite(
    long EnergySiteId, string Id, string SiteName, string GatewayId, string AssetSiteId, int BatteryCount,
    double PercentageCharged, double SolarPeakWatts, double BaseLoadWatts, double UtcOffsetHours,
    string TimeZone, int BackupReservePercent, string InstallationDate, bool LiveStatusWithoutEnergy = false);

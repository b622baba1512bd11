namespace TeslaSimulator.Auth;

/// <summary>Tesla's scopes and the descriptions its consent page shows (TESLA.md §2, D-AUTH table).</summary>
internal static class Scopes
{
    public const string OpenId = "openid";
    public const string OfflineAccess = "offline_access";
    public const string UserData = "user_data";
    public const string VehicleDeviceData = "vehicle_device_data";
    public const string VehicleLocation = "vehicle_location";
    public const string VehicleCmds = "vehicle_cmds";
    public const string VehicleChargingCmds = "vehicle_charging_cmds";
    public const string EnergyDeviceData = "energy_device_data";
    public const string EnergyCmds = "energy_cmds";

    public static readonly IReadOnlyDictionary<string, string> Descriptions = new Dictionary<string, string>
    {
        [OpenId] = "Sign in with Tesla",
        [OfflineAccess] = "Stay signed in (refresh token)",
        [UserData] = "Profile information: contact info, home address, profile picture and referral info",
        [VehicleDeviceData] = "Vehicle information: live data, service history and scheduling, upgrades, nearby Superchargers and ownership details",
        [VehicleLocation] = "Vehicle location: precise and coarse location",
        [VehicleCmds] = "Vehicle commands: add/remove drivers, Live Camera, unlock, wake up, remote start and software updates",
        [VehicleChargingCmds] = "Vehicle charging management: charging history, billed amount, charging location, start/stop and schedule charging",
        [EnergyDeviceData] = "Energy product information: live status, site info, backup, energy and charge history",
        [EnergyCmds] = "Energy product settings: backup reserve, operation mode, storm mode and more",
    };

    public static string Describe(string scope) => Descriptions.TryGetValue(scope, out var d) ? d : scope;

    public static IReadOnlyList<string> Parse(string? scope) =>
        (scope ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
}

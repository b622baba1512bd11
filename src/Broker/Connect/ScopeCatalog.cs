using Broker.Tenants;
using Broker.Tesla;

namespace Broker.Connect;

/// <summary>What each Tesla scope lets the broker do, and what its absence costs (TESLA.md §2).</summary>
public sealed record ScopeInfo(string Scope, string Title, string Shares, string WithoutIt);

public static class ScopeCatalog
{
    public static readonly IReadOnlyList<ScopeInfo> All =
    [
        new("openid", "Sign in with Tesla", "your Tesla account's identifier", "Broker cannot tell which Tesla account was linked."),
        new("offline_access", "Stay signed in", "a refresh token, so access continues after today",
            "Access ends when the current token expires (about 8 hours); after that you must connect again."),
        new("vehicle_device_data", "Vehicle information", "battery, charging, climate, odometer and vehicle state",
            "No vehicle data: Broker does not read your vehicles (no battery, charging or climate readings)."),
        new("vehicle_location", "Vehicle location", "your vehicles' precise location",
            "No location: position and heading are not collected."),
        new("energy_device_data", "Energy product information", "Powerwall and solar power, energy and grid status",
            "No energy data: Broker does not read your Powerwall or solar sites."),
        new("vehicle_cmds", "Vehicle commands", "waking your vehicles when a reading is due, and the commands this service's policy allows (climate, locks, lights, horn)",
            "No waking and no vehicle commands: a sleeping vehicle is read only once it wakes by itself."),
        new("vehicle_charging_cmds", "Vehicle charging management", "starting and stopping charging, charging current, charge limit and charge port",
            "No charging controls or charging history."),
        new("energy_cmds", "Energy product settings", "changing backup reserve, operation and storm mode",
            "No energy settings changes (Broker does not make any today)."),
        new("user_data", "Profile information", "contact details and profile", "No profile details (Broker does not need them)."),
    ];

    /// <summary>
    /// What a connect through this tenant asks Tesla for: the configured scopes, plus <c>vehicle_cmds</c> when the tenant
    /// lets the broker wake its cars, since Tesla's scope table files wake-up under it (tesla-confirmed §3), plus what the
    /// commands its policy allows need: <c>vehicle_charging_cmds</c> for charging ones only, <c>vehicle_cmds</c> (which
    /// covers charging too) once any other is allowed. The one place the connect redirect, the result page and an
    /// account's missing scopes take the list from.
    /// </summary>
    public static IReadOnlyList<string> RequestedBy(Tenant tenant, TeslaOptions tesla)
    {
        var commands = tenant.AllowedCommands.Select(Commands.CommandCatalog.Find).OfType<Commands.CommandSpec>().ToList();
        string[] forCommands = commands.Any(c => c.Kind != Commands.CommandKind.Charging) ? [WakeScope]
            : commands.Any(c => c.Kind == Commands.CommandKind.Charging) ? ["vehicle_charging_cmds"] : [];
        var scopes = tesla.Scopes.Concat(tenant.WakeAfterSleepMinutes is null ? [] : [WakeScope]).Concat(forCommands).Distinct(StringComparer.Ordinal).ToList();
        if (scopes.Contains(WakeScope))
        {
            scopes.Remove("vehicle_charging_cmds");   // vehicle_cmds allows charging commands too: one scope fewer for the owner to read
        }
        return scopes;
    }

    public const string WakeScope = "vehicle_cmds";

    public static ScopeInfo Describe(string scope) =>
        All.FirstOrDefault(s => s.Scope == scope) ?? new(scope, scope, scope, $"Features needing '{scope}' are unavailable.");

    /// <summary>The requested scopes the user did not grant.</summary>
    public static IReadOnlyList<ScopeInfo> Missing(IEnumerable<string> requested, IEnumerable<string> granted) =>
        requested.Except(granted, StringComparer.Ordinal).Select(Describe).ToList();
}

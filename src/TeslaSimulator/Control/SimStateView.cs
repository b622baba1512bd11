using TeslaSimulator.Auth;
using TeslaSimulator.Fleet;
using TeslaSimulator.State;

namespace TeslaSimulator.Control;

/// <summary>GET /_sim/state: a readable picture of the world. Never includes token or code values.</summary>
internal static class SimStateView
{
    public static object Of(SimulatorState state, PartnerRegistry registry, SimRealms realms)
    {
        foreach (var v in state.AllVehicles) v.Advance(state.Now, state.Timing);
        foreach (var s in state.AllSites) s.Advance(state.Now);
        return new
        {
            now = state.Now,
            accounts = state.Accounts.Select(a => new
            {
                email = a.Email, sub = a.Sub, region = a.Region, realm = realms.OfRegion(a.Region).Name, passwordEpoch = a.PasswordEpoch,
                vehicles = a.Vehicles.Select(v => v.Vin), energySites = a.EnergySites.Select(s => s.Seed.EnergySiteId),
            }),
            vehicles = state.AllVehicles.Select(Vehicle),
            energySites = state.AllSites.Select(s =>
            {
                var flows = s.FlowsAt(state.Now);
                return new { energySiteId = s.Seed.EnergySiteId, siteName = s.Seed.SiteName, owner = s.Owner.Email,
                    percentageCharged = Math.Round(s.Percent, 2), solarPower = flows.SolarW, batteryPower = flows.BatteryW,
                    loadPower = flows.LoadW, gridPower = flows.GridW };
            }),
            consents = state.Consents.Select(c => new
            {
                account = state.AccountBySub(c.Sub)?.Email, clientId = c.ClientId, scopes = c.Consent.Scopes.Order(),
                revoked = c.Consent.Revoked, epoch = c.Consent.Epoch,
            }),
            clients = state.Clients.Values.Select(c => new { clientId = c.ClientId, name = c.Name, realm = c.Realm, redirectUris = c.RedirectUris }),
            realms = realms.All.Select(Realm),
            partnerRegistrations = registry.Registrations.Values.OrderBy(r => r.ClientId).ThenBy(r => r.Region).Select(r => new
            {
                clientId = r.ClientId, region = r.Region, domain = r.Domain, publicKey = r.PublicKey, createdAt = r.CreatedAt, updatedAt = r.UpdatedAt,
            }),
        };
    }

    public static object Realm(SimRealm r) => new
    {
        name = r.Name, authBaseUrl = r.AuthBase, issuer = r.Issuer, regions = r.Regions,
        idToken = System.Text.RegularExpressions.Regex.Replace(r.IdToken.ToString(), "(?<=[a-z])([A-Z])", "-$1").ToLowerInvariant(),
    };

    public static object Vehicle(SimVehicle v) => new
    {
        vin = v.Vin, id = v.Seed.Id, displayName = v.Seed.DisplayName, owner = v.Owner.Email,
        mode = v.Mode.ToString().ToLowerInvariant(), state = v.ApiState, batteryLevel = Math.Round(v.Battery, 2),
        chargeLimit = v.ChargeLimit, chargingState = v.ChargingState, odometer = Math.Round(v.Odometer, 3),
        latitude = v.Latitude, longitude = v.Longitude, lastActivity = v.LastActivity, wakeAt = v.WakeAt,
        virtualKeys = v.VirtualKeys.Select(k => new { domain = k.Domain, clientId = k.ClientId, publicKey = k.PublicKey, addedAt = k.AddedAt }),
        telemetryConfigs = v.TelemetryConfigs.Values.Select(c => new
        {
            clientId = c.ClientId, hostname = c.Hostname, port = c.Port, exp = c.Exp, fields = c.Fields.Keys, configuredAt = c.ConfiguredAt, syncedAt = c.SyncedAt,
        }),
    };
}

using TeslaSimulator.Hosting;

namespace TeslaSimulator.State;

/// <summary>
/// The whole in-memory world: accounts, their vehicles and sites, clients and consents. One lock guards it;
/// the simulator is a test and demo server, so simplicity beats throughput.
/// </summary>
internal sealed class SimulatorState
{
    private readonly TimeProvider _time;
    private readonly Dictionary<(string Sub, string ClientId), Consent> _consents = [];

    public object Gate { get; } = new();
    public SimTiming Timing { get; }
    public SimulatorOptions Options { get; }
    public IReadOnlyList<SimAccount> Accounts { get; }
    public IReadOnlyDictionary<string, SimClient> Clients { get; }

    public SimulatorState(SimulatorOptions options, TimeProvider time, IHostEnvironment env)
    {
        _time = time;
        Options = options;
        Timing = new SimTiming(options.WakeUpSeconds, options.IdleSecondsBeforeSleep);
        var seed = Seed.Load(ResolveSeed(options.SeedFile, env));
        var now = time.GetUtcNow();

        Accounts = seed.Accounts.Select(a =>
        {
            var account = new SimAccount(a);
            account.Vehicles.AddRange(a.Vehicles.Select(v => new SimVehicle(v, account, now)));
            account.EnergySites.AddRange(a.EnergySites.Select(s => new SimEnergySite(s, account, now)));
            return account;
        }).ToList();

        var clients = seed.Clients.ToDictionary(c => c.ClientId,
            c => new SimClient(c.ClientId, c.ClientSecret, c.Name ?? c.ClientId, c.RedirectUris, RealmName(c.Realm)));
        foreach (var c in options.Clients.Where(c => c.ClientId != ""))
            clients[c.ClientId] = new SimClient(c.ClientId, string.IsNullOrEmpty(c.ClientSecret) ? null : c.ClientSecret,
                c.Name ?? c.ClientId, c.RedirectUris, RealmName(c.Realm));
        Clients = clients;
    }

    public DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>
    /// Tesla has disabled the developer app: 403 (over the billing limit) or 402 (payment required) to every Fleet API
    /// call, null while it is enabled. Set through the control API.
    /// </summary>
    public int? AppRefusal { get; set; }

    private static string RealmName(string? realm) => string.IsNullOrEmpty(realm) ? Auth.SimRealm.Global : realm.ToLowerInvariant();

    public SimAccount? AccountByEmail(string email) =>
        Accounts.FirstOrDefault(a => string.Equals(a.Email, email.Trim(), StringComparison.OrdinalIgnoreCase));

    public SimAccount? AccountBySub(string sub) => Accounts.FirstOrDefault(a => a.Sub == sub);

    public IEnumerable<SimVehicle> AllVehicles => Accounts.SelectMany(a => a.Vehicles);
    public IEnumerable<SimEnergySite> AllSites => Accounts.SelectMany(a => a.EnergySites);

    /// <summary>Finds a vehicle by VIN or numeric id and advances it to now. Caller holds <see cref="Gate"/>.</summary>
    public SimVehicle? Vehicle(SimAccount account, string tag)
    {
        var v = account.Vehicles.FirstOrDefault(v => v.Vin.Equals(tag, StringComparison.OrdinalIgnoreCase) || v.Seed.Id.ToString() == tag);
        v?.Advance(Now, Timing);
        return v;
    }

    public Consent ConsentFor(string sub, string clientId)
    {
        if (!_consents.TryGetValue((sub, clientId), out var c)) _consents[(sub, clientId)] = c = new Consent { Revoked = true };
        return c;
    }

    public IEnumerable<(string Sub, string ClientId, Consent Consent)> Consents =>
        _consents.Select(kv => (kv.Key.Sub, kv.Key.ClientId, kv.Value));

    public void RevokeConsents(SimAccount account, string? clientId)
    {
        foreach (var ((sub, client), consent) in _consents)
        {
            if (sub != account.Sub || (clientId is not null && client != clientId)) continue;
            consent.Revoked = true;
            consent.Scopes.Clear();
            consent.Epoch++;
        }
        // Revoking an app's access also removes its virtual key from the owner's cars (TESLA.md §4.5).
        foreach (var v in account.Vehicles) v.VirtualKeys.RemoveAll(k => clientId is null || k.ClientId == clientId);
        // "Fleet Telemetry configuration will automatically be removed if a user revokes an application's access" (D-VE).
        foreach (var v in account.Vehicles)
            foreach (var app in v.TelemetryConfigs.Keys.Where(app => clientId is null || app == clientId).ToList()) v.TelemetryConfigs.Remove(app);
    }

    private static string ResolveSeed(string path, IHostEnvironment env)
    {
        if (Path.IsPathRooted(path)) return path;
        var nextToDll = Path.Combine(AppContext.BaseDirectory, path);
        return File.Exists(nextToDll) ? nextToDll : Path.Combine(env.ContentRootPath, path);
    }
}

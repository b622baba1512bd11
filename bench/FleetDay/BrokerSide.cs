using System.Net.Http.Json;
using Broker.Data;
using Broker.Polling;
using Broker.Tenants;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FleetDay;

/// <summary>
/// One broker (own database, own simulator world) with alice and bob connected under one tenant.
/// <see cref="PollDueAsync"/> does what the Quartz trigger does: polls each account whose next due
/// time has come and keeps the due time the poll returns.
/// </summary>
public sealed class BrokerSide(string name, SimWorld sim, BrokerWorld broker) : IAsyncDisposable
{
    private Dictionary<Guid, DateTimeOffset?> _due = [];

    public string Name { get; } = name;
    public SimWorld Sim { get; } = sim;
    public int Polls { get; private set; }

    /// <param name="wakeAfterSleepMinutes">The tenant's wake policy (PUT /api/v1/policy); null = never wake, the default.</param>
    public async Task ConnectAsync(int? wakeAfterSleepMinutes)
    {
        await using var scope = broker.Services.CreateAsyncScope();
        var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
        var tenant = await provisioning.EnsureTenantAsync("bench", "Fleet-day bench", default);
        var key = await provisioning.AddApiKeyAsync(tenant.Id, "bench", default);
        var api = broker.CreateClient();
        api.DefaultRequestHeaders.Authorization = new("Bearer", key);
        (await api.PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes })).EnsureSuccessStatusCode();
        foreach (var (email, password) in new[] { ("alice@example.com", "alice-demo"), ("bob@example.com", "bob-demo") })
        {
            var (_, link) = await provisioning.AddConnectLinkAsync(tenant.Id, email, default);
            await Connect.ThroughBrokerAsync(broker, Sim, link, email, password);
        }
        var db = scope.ServiceProvider.GetRequiredService<BrokerDbContext>();
        _due = await db.TeslaAccounts.ToDictionaryAsync(a => a.Id, _ => (DateTimeOffset?)null);
    }

    public void StartAt(DateTimeOffset at) => _due = _due.ToDictionary(d => d.Key, _ => (DateTimeOffset?)at);

    public async Task PollDueAsync(DateTimeOffset now)
    {
        foreach (var (id, at) in _due.Where(d => d.Value <= now).ToList())
        {
            await using var scope = broker.Services.CreateAsyncScope();
            _due[id] = await scope.ServiceProvider.GetRequiredService<AccountPoller>().PollAsync(id, at, default);
            Polls++;
        }
    }

    /// <summary>When the broker's stored reading of each car was taken (what /metrics would serve), and the charger power it shows.</summary>
    public async Task<Dictionary<string, (DateTimeOffset? DataAt, double? ChargerKw)>> DataAtAsync()
    {
        await using var scope = broker.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BrokerDbContext>();
        return await (from r in db.VehicleReadings join v in db.Vehicles on r.VehicleId equals v.Id select new { v.Vin, r.DataAt, r.ChargerPowerKw })
            .ToDictionaryAsync(x => x.Vin, x => (x.DataAt, x.ChargerPowerKw));
    }

    public async ValueTask DisposeAsync()
    {
        await broker.DisposeAsync();
        await Sim.DisposeAsync();
    }
}

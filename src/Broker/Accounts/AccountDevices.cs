using Broker.Data;
using Broker.Tesla;

namespace Broker.Accounts;

/// <summary>
/// Brings an account's cars and energy sites in line with Tesla's <c>/api/1/products</c>, at connect and then at most
/// every <see cref="Polling.PollingOptions.ProductsIntervalHours"/>. Rules:
/// <list type="bullet">
/// <item>A device Tesla lists is added (or brought back, if it had been retired) and its name refreshed.</item>
/// <item>A device Tesla no longer lists is retired: not polled (and not billed) any more, gone from /metrics, kept for
/// its history should it come back.</item>
/// <item>Only what the granted scopes let Tesla list is judged: without <c>energy_device_data</c> the products list has
/// no sites, which says nothing about them.</item>
/// </list>
/// </summary>
public static class AccountDevices
{
    public static void Reconcile(BrokerDbContext db, TeslaAccount account, IReadOnlyList<Product> products, DateTimeOffset now)
    {
        if (account.GrantedScopes.Contains("vehicle_device_data"))
        {
            var listed = products.Where(p => p.Vin is { Length: > 0 }).ToList();
            foreach (var p in listed)
            {
                var vehicle = account.Vehicles.SingleOrDefault(v => v.Vin == p.Vin);
                if (vehicle is null)
                {
                    vehicle = new Vehicle { Vin = p.Vin!, TenantId = account.TenantId, AccountId = account.Id, DiscoveredAt = now };
                    account.Vehicles.Add(vehicle);
                    db.Vehicles.Add(vehicle); // keys are made here, so EF must be told this row is new
                }
                (vehicle.TeslaId, vehicle.VehicleId, vehicle.DisplayName, vehicle.State, vehicle.LastSeenAt, vehicle.RetiredAt) =
                    (p.NumericId() ?? 0, p.VehicleId ?? 0, p.DisplayName, p.State, now, null);
            }
            foreach (var gone in account.Vehicles.Where(v => v.RetiredAt is null && !listed.Any(p => p.Vin == v.Vin)))
            {
                gone.RetiredAt = now;
            }
        }
        if (account.GrantedScopes.Contains("energy_device_data"))
        {
            var listed = products.Where(p => p.EnergySiteId is not null).ToList();
            foreach (var p in listed)
            {
                var site = account.EnergySites.SingleOrDefault(s => s.EnergySiteId == p.EnergySiteId);
                if (site is null)
                {
                    site = new EnergySite { EnergySiteId = p.EnergySiteId!.Value, TenantId = account.TenantId, AccountId = account.Id, DiscoveredAt = now };
                    account.EnergySites.Add(site);
                    db.EnergySites.Add(site);
                }
                (site.SiteName, site.ResourceType, site.HasBattery, site.HasSolar, site.LastSeenAt, site.RetiredAt) =
                    (p.SiteName, p.ResourceType, p.Components?.Battery ?? false, p.Components?.Solar ?? false, now, null);
            }
            foreach (var gone in account.EnergySites.Where(s => s.RetiredAt is null && !listed.Any(p => p.EnergySiteId == s.EnergySiteId)))
            {
                gone.RetiredAt = now;
            }
        }
        account.ProductsCheckedAt = now;
    }
}

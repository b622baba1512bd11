using Bench;
using Broker.Accounts;
using Broker.Data;
using Broker.Polling;
using Broker.Telemetry;
using Broker.Tenants;
using Microsoft.EntityFrameworkCore;

namespace TelemetryIngest;

/// <summary>
/// The fleet as the broker would hold it after every car took its config: MetricsScale's synthetic tenants, accounts and
/// vehicles (<see cref="Synthetic"/>), each car's <see cref="VehicleTelemetry"/> row as <c>TelemetrySetup</c> leaves it once
/// Tesla says the config is synced (status Streaming, the full field plan, checked just now so no check is due), plus a small
/// tenant of probe cars with an API key of its own. The writer only takes fields of cars in that state (TelemetryWriter's
/// query), so a row in any other state would be counted <c>unknown_vin</c> and measure nothing.
/// </summary>
public static class StreamingSeed
{
    public sealed record Fleet(List<string> Vins, Guid ProbeTenant, List<string> ProbeVins, string ProbeKey);

    public static async Task<Fleet> SeedAsync(string connectionString, int vehicles, int probes, DateTimeOffset now)
    {
        await Synthetic.SeedAsync(connectionString, vehicles, now);
        var options = new DbContextOptionsBuilder<BrokerDbContext>().UseNpgsql(connectionString).UseSnakeCaseNamingConvention().Options;
        var probeKey = SecretToken.NewApiKey();
        await using (var db = new BrokerDbContext(options))
        {
            var tenant = new Tenant { Slug = "ingest-probe", Name = "Ingest probe", CreatedAt = now };
            var account = new TeslaAccount
            {
                TenantId = tenant.Id, Subject = Guid.NewGuid().ToString(), Email = "probe@example.com", Region = "na",
                FleetApiBaseUrl = "https://fleet-api.prd.na.vn.cloud.tesla.com", Status = AccountStatus.Active, ConnectedAt = now, UpdatedAt = now,
                GrantedScopes = ["openid", "offline_access", "vehicle_device_data", "vehicle_location"],
            };
            db.AddRange(tenant, account);
            for (var p = 0; p < probes; p++)
            {
                var vehicle = new Vehicle
                {
                    AccountId = account.Id, TenantId = tenant.Id, Vin = $"5YJ3PROBE{p:D8}", TeslaId = 3_999_000_000_000_000 + p,
                    VehicleId = 1_999_000_000 + p, DisplayName = $"Probe {p}", State = "online", DiscoveredAt = now, LastSeenAt = now,
                };
                db.AddRange(vehicle, new VehicleReading
                {
                    VehicleId = vehicle.Id, AccountId = account.Id, TenantId = tenant.Id, State = "online", StateSince = now, LastSeenAt = now, NextPollAt = now,
                });
            }
            db.TenantApiKeys.Add(new TenantApiKey { TenantId = tenant.Id, KeyHash = SecretToken.Hash(probeKey), Prefix = probeKey[..10], Label = "probe", CreatedAt = now });
            await db.SaveChangesAsync();
        }

        var fields = TelemetryFields.For(withLocation: true).Select(p => p.Field).ToArray();
        var cars = await ReadCarsAsync(options);
        for (var first = 0; first < cars.Count; first += 2000)
        {
            await using var db = new BrokerDbContext(options);
            foreach (var c in cars.Skip(first).Take(2000))
            {
                db.VehicleTelemetry.Add(new VehicleTelemetry
                {
                    VehicleId = c.Id, AccountId = c.AccountId, TenantId = c.TenantId, Vin = c.Vin, Status = TelemetryStatus.Streaming, Since = now,
                    ConfiguredAt = now, ExpiresAt = now.AddDays(30), CheckedAt = now, Fields = fields,
                });
                // The month's streaming ledger row a car that has streamed for a day already has: the writer's upserts then
                // update it, as they do all month, instead of the window measuring each car's one first insert as growth.
                db.ApiUsage.Add(new ApiUsage
                {
                    AccountId = c.AccountId, TenantId = c.TenantId, Device = c.Vin, Category = "streaming", Billable = true, Calls = 1800, CostUsd = 0.012m,
                    Month = new DateOnly(now.UtcDateTime.Year, now.UtcDateTime.Month, 1),
                });
            }
            await db.SaveChangesAsync();
        }
        var probeTenant = cars.First(c => c.Vin.StartsWith("5YJ3PROBE", StringComparison.Ordinal)).TenantId;
        return new Fleet(cars.Where(c => c.TenantId != probeTenant).Select(c => c.Vin).ToList(), probeTenant,
            cars.Where(c => c.TenantId == probeTenant).Select(c => c.Vin).Order().ToList(), probeKey);
    }

    private sealed record Car(Guid Id, Guid AccountId, Guid TenantId, string Vin);

    private static async Task<List<Car>> ReadCarsAsync(DbContextOptions<BrokerDbContext> options)
    {
        await using var db = new BrokerDbContext(options);
        return await db.Vehicles.OrderBy(v => v.Vin).Select(v => new Car(v.Id, v.AccountId, v.TenantId, v.Vin)).ToListAsync();
    }
}

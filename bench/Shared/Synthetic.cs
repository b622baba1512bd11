using Broker.Accounts;
using Broker.Data;
using Broker.Polling;
using Broker.Tenants;
using Microsoft.EntityFrameworkCore;

namespace Bench;

/// <summary>
/// A synthetic fleet straight into a migrated database (MetricsScale, TelemetryIngest): 20 vehicles per tenant, 2 per account, a fresh
/// full reading per vehicle, an energy site (with a reading) per 10 accounts, and API usage rows per
/// vehicle and account as the poller would leave them.
/// </summary>
public static class Synthetic
{
    public static async Task SeedAsync(string connectionString, int vehicles, DateTimeOffset now)
    {
        var options = new DbContextOptionsBuilder<BrokerDbContext>().UseNpgsql(connectionString).UseSnakeCaseNamingConvention().Options;
        var random = new Random(42);
        const int batch = 500; // accounts per SaveChanges
        var accounts = vehicles / 2;
        Tenant? tenant = null;
        for (var first = 0; first < accounts; first += batch)
        {
            await using var db = new BrokerDbContext(options);
            for (var a = first; a < Math.Min(accounts, first + batch); a++)
            {
                if (a % 10 == 0)
                {
                    tenant = new Tenant { Slug = $"tenant-{a / 10:D5}", Name = $"Tenant {a / 10}", CreatedAt = now };
                    db.Add(tenant);
                }
                var account = new TeslaAccount
                {
                    TenantId = tenant!.Id, Subject = Guid.NewGuid().ToString(), Email = $"owner{a}@example.com", Region = "na",
                    FleetApiBaseUrl = "https://fleet-api.prd.na.vn.cloud.tesla.com", Status = AccountStatus.Active, ConnectedAt = now, UpdatedAt = now,
                    GrantedScopes = ["openid", "offline_access", "vehicle_device_data", "vehicle_location", "energy_device_data"],
                };
                db.Add(account);
                db.Add(new ApiUsage { AccountId = account.Id, TenantId = tenant.Id, Category = "free", Billable = true, Calls = 1440 });
                for (var v = 0; v < 2; v++)
                {
                    var vin = $"5YJ3E1EA{a:D7}{v}XX"[..17];
                    var vehicle = new Vehicle
                    {
                        AccountId = account.Id, TenantId = tenant.Id, Vin = vin, TeslaId = 3_744_291_000_000_000 + a * 2 + v,
                        VehicleId = 1_492_000_000 + a * 2 + v, DisplayName = $"Car {a}-{v}", State = "online", DiscoveredAt = now, LastSeenAt = now,
                    };
                    db.Add(vehicle);
                    db.Add(Reading(vehicle, random, now));
                    db.Add(new ApiUsage { AccountId = account.Id, TenantId = tenant.Id, Device = vin, Category = "data", Billable = true, Calls = 300, CostUsd = 0.6m });
                    db.Add(new ApiUsage { AccountId = account.Id, TenantId = tenant.Id, Device = vin, Category = "wake", Billable = true, Calls = 1, CostUsd = 0.02m });
                }
                if (a % 10 == 0)
                {
                    var site = new EnergySite
                    {
                        AccountId = account.Id, TenantId = tenant.Id, EnergySiteId = 2_252_000_000 + a, SiteName = $"Home {a}",
                        ResourceType = "battery", HasBattery = true, HasSolar = true, DiscoveredAt = now, LastSeenAt = now,
                    };
                    db.Add(site);
                    db.Add(new EnergySiteReading
                    {
                        EnergySiteId = site.Id, AccountId = account.Id, TenantId = tenant.Id, DataAt = now, SolarPowerW = 3200, BatteryPowerW = -1200,
                        LoadPowerW = 900, GridPowerW = -1100, PercentageCharged = 71.5, GridStatus = "Active", NextPollAt = now,
                    });
                }
            }
            await db.SaveChangesAsync();
        }
    }

    /// <summary>One API key for each of the first <paramref name="count"/> tenants (stored hashed, as the broker stores them).</summary>
    public static async Task<List<string>> TenantKeysAsync(string connectionString, int count)
    {
        var options = new DbContextOptionsBuilder<BrokerDbContext>().UseNpgsql(connectionString).UseSnakeCaseNamingConvention().Options;
        await using var db = new BrokerDbContext(options);
        var keys = new List<string>();
        foreach (var tenant in await db.Tenants.OrderBy(t => t.Slug).Select(t => t.Id).Take(count).ToListAsync())
        {
            var key = SecretToken.NewApiKey();
            db.TenantApiKeys.Add(new TenantApiKey { TenantId = tenant, KeyHash = SecretToken.Hash(key), Prefix = key[..10], Label = "bench", CreatedAt = DateTimeOffset.UtcNow });
            keys.Add(key);
        }
        await db.SaveChangesAsync();
        return keys;
    }

    private static VehicleReading Reading(Vehicle v, Random random, DateTimeOffset now) => new()
    {
        VehicleId = v.Id, AccountId = v.AccountId, TenantId = v.TenantId, State = "online", StateSince = now, LastSeenAt = now, DataAt = now,
        BatteryLevel = random.Next(10, 100), UsableBatteryLevel = random.Next(10, 100), BatteryRangeMiles = random.Next(30, 300),
        ChargingState = "Disconnected", ChargerPowerKw = 0, ChargeLimitSoc = 80, ChargeEnergyAddedKwh = 12.5, OdometerMiles = random.Next(1000, 90000),
        InsideTempC = 21.5, OutsideTempC = 14, Locked = true, SentryMode = false, ShiftState = "D", SpeedMph = random.Next(0, 70),
        Latitude = 37.4 + random.NextDouble(), Longitude = -122.1 + random.NextDouble(), CarType = "model3", FirmwareVersion = "2024.44.25",
        NextPollAt = now,
    };
}

using System.Globalization;
using System.Text.Json;

namespace Bench;

/// <summary>
/// A simulator seed file (the shape of src/TeslaSimulator/Seed/demo-fleet.json) with many generated
/// Tesla accounts: <c>user00001@scale.test</c>…, every account at least one car, the rest spread
/// unevenly (most households 1–3 cars, a few fleets with dozens), one Powerwall per ten accounts,
/// 80 % NA and 20 % EU. Every car starts asleep; benchmarks set states through /_sim.
/// </summary>
public static class ScaleSeed
{
    public sealed record Car(string Vin, string Email, int TripMinutes);

    public static string Email(int account) => $"user{account:D5}@scale.test";
    public static string Password(int account) => $"pw-{account}-scale";

    /// <summary>Writes the seed to <paramref name="path"/>; returns every car with its owner.</summary>
    public static List<Car> Write(string path, int accounts, int vehicles, string clientId, string clientSecret, IEnumerable<string> redirectUris, int randomSeed = 6)
    {
        if (vehicles < accounts)
        {
            throw new ArgumentException("Every account needs at least one vehicle: --vehicles must be at least --accounts.");
        }
        var random = new Random(randomSeed);
        var perAccount = Enumerable.Repeat(1, accounts).ToArray();
        for (var i = accounts; i < vehicles; i++)
        {
            perAccount[(int)(accounts * Math.Pow(random.NextDouble(), 3))]++; // skewed: low indices become fleets
        }
        var cars = new List<Car>();
        var seedAccounts = new List<object>();
        for (var a = 0; a < accounts; a++)
        {
            var region = a % 5 == 4 ? "eu" : "na";
            var vehicleList = new List<object>();
            for (var v = 0; v < perAccount[a]; v++)
            {
                var n = cars.Count;
                var vin = $"5YJ3SCALE{n:D8}";
                var trip = random.Next(10, 70);
                cars.Add(new Car(vin, Email(a), trip));
                vehicleList.Add(new
                {
                    id = 3_900_000_000_000_000L + n, vehicleId = 1_700_000_000L + n, vin, displayName = $"Car {n}",
                    carType = n % 3 == 0 ? "modely" : "model3", exteriorColor = "MidnightSilver", state = "asleep",
                    batteryLevel = random.Next(25, 85), chargeLimit = random.Next(8, 10) * 10, odometer = random.Next(1_000, 80_000) + 0.5,
                    latitude = 37.0 + random.NextDouble(), longitude = -122.5 + random.NextDouble(), heading = random.Next(0, 360),
                    pluggedIn = false, chargerPowerKw = random.Next(0, 2) == 0 ? 7.2 : 11, packKwh = 75, tripMinutes = trip,
                });
            }
            var sites = a % 10 == 0
                ? new object[]
                {
                    new
                    {
                        energySiteId = 2_300_000_000L + a, id = $"STE-SCALE-{a:D5}", siteName = $"Home {a}", gatewayId = $"GW-SCALE-{a:D5}",
                        assetSiteId = Guid.NewGuid().ToString(), batteryCount = 1, percentageCharged = 60.0, solarPeakWatts = 6000,
                        baseLoadWatts = 600, utcOffsetHours = -8, timeZone = "America/Los_Angeles", backupReservePercent = 20,
                        installationDate = "2023-04-12T10:15:00-07:00",
                    },
                }
                : [];
            seedAccounts.Add(new
            {
                email = Email(a), password = Password(a), sub = $"00000000-5ca1-4e00-8000-{a:D12}", region,
                userId = 2_000_000L + a, fullName = $"Scale User {a.ToString(CultureInfo.InvariantCulture)}", locale = "en-US",
                vehicles = vehicleList, energySites = sites,
            });
        }
        var seed = new
        {
            clients = new[] { new { clientId, clientSecret, name = "Broker (scale bench)", redirectUris = redirectUris.ToList() } },
            accounts = seedAccounts,
        };
        File.WriteAllText(path, JsonSerializer.Serialize(seed));
        return cars;
    }
}

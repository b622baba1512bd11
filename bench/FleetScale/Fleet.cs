using System.Net.Http.Json;
using Bench;

namespace FleetScale;

/// <summary>
/// What the fleet does. At the start: 8 % driving, 12 % charging, 15 % parked (awake), 65 % asleep.
/// Then every car starts a drive at random, about 2.4 a day (Poisson, 0.1 an hour); a drive lasts the car's
/// trip length (10–70 min, the simulator parks it), and one drive in four ends on a charger, which
/// charges until the car's limit. Cars that are left alone fall asleep in the simulator by themselves.
/// </summary>
public static class Fleet
{
    public sealed record Change(TimeSpan At, string Vin, string State);

    public static (List<Change> Initial, List<Change> Events) Script(List<ScaleSeed.Car> cars, double hours, Random random)
    {
        var initial = new List<Change>();
        var events = new List<Change>();
        foreach (var car in cars)
        {
            var r = random.NextDouble();
            if (r < 0.35)
            {
                initial.Add(new Change(TimeSpan.Zero, car.Vin, r < 0.08 ? "driving" : r < 0.20 ? "charging" : "online"));
            }
            for (var at = Exponential(random, 0.1); at < hours; at += Exponential(random, 0.1))
            {
                events.Add(new Change(TimeSpan.FromHours(at), car.Vin, "driving"));
                if (random.NextDouble() < 0.25)
                {
                    events.Add(new Change(TimeSpan.FromHours(at) + TimeSpan.FromMinutes(car.TripMinutes + 1), car.Vin, "charging"));
                }
            }
        }
        return (initial, events.OrderBy(e => e.At).ToList());
    }

    public static async Task ApplyAsync(HttpClient control, List<Change> changes, int parallel) =>
        await Parallel.ForEachAsync(changes, new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (c, ct) =>
            (await control.PostAsJsonAsync($"/_sim/vehicles/{c.Vin}/state", new { state = c.State }, ct)).EnsureSuccessStatusCode());

    /// <summary>Plays the events on the shared clock; returns how many were played more than 5 simulated seconds late.</summary>
    public static async Task<int> PlayAsync(HttpClient control, ScaledClock clock, DateTimeOffset start, DateTimeOffset until, List<Change> events)
    {
        var late = 0;
        foreach (var e in events.Where(e => start + e.At < until))
        {
            var wait = (start + e.At - clock.GetUtcNow()) / clock.Speed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }
            if (clock.GetUtcNow() - (start + e.At) > TimeSpan.FromSeconds(5))
            {
                late++;
            }
            (await control.PostAsJsonAsync($"/_sim/vehicles/{e.Vin}/state", new { state = e.State })).EnsureSuccessStatusCode();
        }
        return late;
    }

    private static double Exponential(Random random, double ratePerHour) => -Math.Log(1 - random.NextDouble()) / ratePerHour;
}

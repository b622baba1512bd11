namespace TeslaSimulator.State;

/// <summary>
/// A Powerwall site with solar, or a solar-only site (no battery: <c>BatteryCount</c> 0). Power flows follow a daily solar curve and a household load; the battery
/// absorbs the difference within its power limit and reserve. Integrated lazily in one-minute steps.
/// Sign convention as at Tesla: battery_power &gt; 0 discharging, grid_power &gt; 0 importing.
/// </summary>
internal sealed class SimEnergySite(SeedEnergySite seed, SimAccount owner, DateTimeOffset now)
{
    private const double PowerPerBatteryW = 5000;
    private static readonly TimeSpan Step = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan MaxCatchUp = TimeSpan.FromDays(7);

    public SeedEnergySite Seed { get; } = seed;
    public SimAccount Owner { get; } = owner;
    public double Percent { get; private set; } = seed.PercentageCharged;
    public double NameplateWh => Seed.BatteryCount * 13500;
    public double EnergyLeftWh => NameplateWh * Percent / 100;
    private DateTimeOffset _evaluated = now;

    public bool HasBattery => Seed.BatteryCount > 0;

    public void Advance(DateTimeOffset now)
    {
        if (!HasBattery)
        {
            _evaluated = now; // nothing stored, nothing to integrate
            return;
        }
        if (now - _evaluated > MaxCatchUp) _evaluated = now - MaxCatchUp;
        while (_evaluated < now)
        {
            var next = _evaluated + Step < now ? _evaluated + Step : now;
            var flows = FlowsAt(_evaluated);
            Percent = Math.Clamp(Percent - flows.BatteryW * (next - _evaluated).TotalHours / NameplateWh * 100, 0, 100);
            _evaluated = next;
        }
    }

    public PowerFlows FlowsAt(DateTimeOffset t)
    {
        var local = t.UtcDateTime.AddHours(Seed.UtcOffsetHours);
        var hour = local.TimeOfDay.TotalHours;
        var solar = hour is > 6 and < 20 ? Seed.SolarPeakWatts * Math.Pow(Math.Sin(Math.PI * (hour - 6) / 14), 2) : 0;
        // Morning and evening peaks plus a slow wobble, so successive polls see different numbers.
        var peaks = 900 * Bump(hour, 7.5, 1.2) + 1600 * Bump(hour, 19, 2);
        var load = Seed.BaseLoadWatts + peaks + 120 * Math.Sin(t.ToUnixTimeSeconds() / 420.0);
        var deficit = load - solar;
        var maxPower = Seed.BatteryCount * PowerPerBatteryW;
        var battery = deficit > 0
            ? (Percent > Seed.BackupReservePercent ? Math.Min(deficit, maxPower) : 0)
            : (Percent < 100 ? Math.Max(deficit, -maxPower) : 0);
        return new PowerFlows(Math.Round(solar), Math.Round(battery), Math.Round(load), Math.Round(deficit - battery));
    }

    private static double Bump(double hour, double center, double width) => Math.Exp(-Math.Pow((hour - center) / width, 2));
}

internal sealed record PowerFlows(double SolarW, double BatteryW, double LoadW, double GridW);

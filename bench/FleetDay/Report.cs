using System.Globalization;
using System.Text;

namespace FleetDay;

/// <summary>What one poller's world looked like for one car over the day: awake time and data age while in use.</summary>
public sealed class VehicleWatch
{
    private readonly List<double> _staleness = [];
    private readonly Dictionary<string, List<double>> _byMode = new() { ["driving"] = [], ["charging"] = [] };
    private readonly List<double> _delays = [];
    private DateTimeOffset? _activeSince;
    private bool _seen;

    public TimeSpan Awake { get; private set; }

    /// <summary>Samples while charging where the broker's stored reading showed no charger power; null for the naive poller (it stores none).</summary>
    public (int Charging, int NoPower)? ChargerShown { get; private set; }

    public static bool IsActive(string mode) => mode is "driving" or "charging";

    /// <param name="chargerKw">The charger power the poller's stored reading shows (0 when none); null when it stores no readings.</param>
    public void Sample(string mode, DateTimeOffset now, DateTimeOffset? dataAt, TimeSpan weight, double? chargerKw)
    {
        if (mode == "charging" && dataAt is not null && chargerKw is not null)
        {
            var (charging, noPower) = ChargerShown ?? (0, 0);
            ChargerShown = (charging + 1, noPower + (chargerKw is > 0 ? 0 : 1));
        }
        if (mode is not ("asleep" or "offline"))
        {
            Awake += weight;
        }
        if (IsActive(mode) && _activeSince is null)
        {
            (_activeSince, _seen) = (now, false);
        }
        else if (!IsActive(mode) && _activeSince is { } since)
        {
            if (!_seen)
            {
                _delays.Add((now - since).TotalSeconds); // never read during the whole drive/charge
            }
            _activeSince = null;
        }
        if (_activeSince is { } start && !_seen && dataAt >= start)
        {
            _seen = true;
            _delays.Add((dataAt.Value - start).TotalSeconds);
        }
        if (IsActive(mode))
        {
            // No reading at all yet counts as old as the day (it is at least that stale).
            _staleness.Add((now - (dataAt ?? now.Date)).TotalSeconds);
            _byMode[mode].Add(_staleness[^1]);
        }
    }

    /// <summary>From the start of each drive or charge (as sampled) to the first reading taken during it: mean / max, and episodes.</summary>
    public string Detection() => _delays.Count == 0 ? "–" : $"{_delays.Average():F0} / {_delays.Max():F0} ({_delays.Count})";

    public string Staleness() => Summary(_staleness);

    /// <summary>The staleness samples, all or only those taken while driving (or charging).</summary>
    public IReadOnlyList<double> Samples(string? mode = null) => mode is null ? _staleness : _byMode[mode];

    public static string Summary(IReadOnlyCollection<double> samples)
    {
        if (samples.Count == 0)
        {
            return "–";
        }
        var sorted = samples.Order().ToList();
        return $"{sorted.Average():F0} / {sorted[(int)Math.Ceiling(0.95 * sorted.Count) - 1]:F0} / {sorted[^1]:F0}";
    }
}

public static class Report
{
    public static string Build((string Vin, string Name, string Role)[] fleet, List<(string Who, SimWorld.Ledger Ledger, Dictionary<string, VehicleWatch> Watch)> runs, TimeSpan step)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"Per vehicle-day. Each poller has its own simulator world (same seed, same script, same clock). Counts, wakes and $ come from each simulator's /_sim/calls ledger (billable = status < 500). Awake h = hours the car was not asleep. Signals = Fleet Telemetry fields the car streamed ($1 per 150,000, in the cost). Staleness = age in seconds of the newest reading (a vehicle_data answer, or for the streaming poller also a streamed field: VehicleReading.DataAt), sampled every 5 s while the car is driving or charging: mean / p95 / max (the first samples of a drive see the reading from before the car slept). First reading = seconds from a drive/charge starting (5 s sampling) to the first reading taken during it: mean / max (episodes). Clock step {step.TotalSeconds:F0} s (the streaming world in 500 ms ticks).");
        s.AppendLine();
        s.AppendLine("| vehicle | poller | billable data calls | of which 408 asleep | wakes | streaming signals | est. cost $ | awake h | staleness driving/charging s | first reading after drive/charge starts s |");
        s.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var (vin, name, role) in fleet)
        {
            foreach (var (who, ledger, watch) in runs)
            {
                var rows = ledger.Calls.Where(r => r.Device == vin && r.Billable).ToList();
                s.AppendLine(CultureInfo.InvariantCulture,
                    $"| {name} ({role}) | {who} | {rows.Where(r => r.Category == "data").Sum(r => r.Count)} | {rows.Where(r => r.Category == "data" && r.Status == 408).Sum(r => r.Count)} | {rows.Where(r => r.Category == "wake").Sum(r => r.Count)} | {rows.Where(r => r.Category == "streaming").Sum(r => r.Count)} | {rows.Sum(r => r.Cost):F3} | {watch[vin].Awake.TotalHours:F1} | {watch[vin].Staleness()} | {watch[vin].Detection()} |");
            }
        }
        s.AppendLine();
        s.AppendLine("Staleness split by what the car was doing (s, mean / p95 / max), all three cars together:");
        s.AppendLine();
        s.AppendLine("| poller | driving and charging | driving | charging | charging samples whose stored reading showed no charger power |");
        s.AppendLine("|---|---|---|---|---|");
        foreach (var (who, _, watch) in runs)
        {
            var shown = watch.Values.Select(w => w.ChargerShown).Where(c => c is not null).Select(c => c!.Value).ToList();
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {who} | {VehicleWatch.Summary(watch.Values.SelectMany(w => w.Samples()).ToList())} | {VehicleWatch.Summary(watch.Values.SelectMany(w => w.Samples("driving")).ToList())} | {VehicleWatch.Summary(watch.Values.SelectMany(w => w.Samples("charging")).ToList())} | {(shown.Count == 0 ? "–" : $"{shown.Sum(c => c.NoPower)} of {shown.Sum(c => c.Charging)}")} |");
        }
        s.AppendLine();
        s.AppendLine("| account-day | poller | token refreshes (auth calls, status 200) | free calls (list/summary, energy) | other statuses |");
        s.AppendLine("|---|---|---|---|---|");
        foreach (var account in runs.SelectMany(r => r.Ledger.Calls).Select(r => r.Account).Where(a => a != "-").Distinct().Order())
        {
            foreach (var (who, ledger, _) in runs)
            {
                var rows = ledger.Calls.Where(r => r.Account == account).ToList();
                var odd = rows.Where(r => r.Status is not (200 or 408)).GroupBy(r => $"{r.Category} {r.Status}").Select(g => $"{g.Key}: {g.Sum(r => r.Count)}");
                s.AppendLine(CultureInfo.InvariantCulture,
                    $"| {account} | {who} | {rows.Where(r => r.Category == "auth" && r.Status == 200).Sum(r => r.Count)} | {rows.Where(r => r.Category is "meta" or "energy").Sum(r => r.Count)} | {(string.Join(", ", odd) is { Length: > 0 } o ? o : "none")} |");
            }
        }
        s.AppendLine();
        foreach (var (who, ledger, _) in runs)
        {
            var billable = ledger.Calls.Where(r => r.Billable).ToList();
            var cost = billable.Sum(r => r.Cost);
            s.AppendLine(CultureInfo.InvariantCulture,
                $"Fleet total, {who}: {billable.Where(r => r.Category == "data").Sum(r => r.Count)} data calls, {billable.Where(r => r.Category == "wake").Sum(r => r.Count)} wakes, {billable.Where(r => r.Category == "streaming").Sum(r => r.Count)} signals, ${cost:F3} for {fleet.Length} vehicles (${cost / fleet.Length:F3} per vehicle-day, ~${cost / fleet.Length * 30:F2} per vehicle-month).");
        }
        return s.ToString();
    }
}

using System.Globalization;
using System.Text;

namespace FleetDay;

/// <summary>What one poller's world looked like for one car over the day: awake time and data age while in use.</summary>
public sealed class VehicleWatch
{
    private readonly List<double> _staleness = [];

    public TimeSpan Awake { get; private set; }

    public static bool IsActive(string mode) => mode is "driving" or "charging";

    public void Sample(string mode, DateTimeOffset now, DateTimeOffset? dataAt, TimeSpan weight)
    {
        if (mode is not ("asleep" or "offline"))
        {
            Awake += weight;
        }
        if (IsActive(mode))
        {
            // No reading at all yet counts as old as the day (it is at least that stale).
            _staleness.Add((now - (dataAt ?? now.Date)).TotalSeconds);
        }
    }

    public string Staleness()
    {
        if (_staleness.Count == 0)
        {
            return "–";
        }
        var sorted = _staleness.Order().ToList();
        return $"{sorted.Average():F0} / {sorted[(int)Math.Ceiling(0.95 * sorted.Count) - 1]:F0} / {sorted[^1]:F0}";
    }
}

public static class Report
{
    public static string Build((string Vin, string Name, string Role)[] fleet, Dictionary<string, (VehicleWatch Broker, VehicleWatch Naive)> watch,
        SimWorld.Ledger brokerLedger, SimWorld.Ledger naiveLedger, TimeSpan interval, TimeSpan wakeAfter, TimeSpan step)
    {
        var naive = $"naive ({interval.TotalSeconds:F0} s, wake after {wakeAfter.TotalMinutes:F0} min)";
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"Per vehicle-day. Broker = AccountPoller with default PollingOptions (never wakes); {naive}. Counts, wakes and $ are the simulator's /_sim/calls ledgers (billable = status < 500). Staleness = age in seconds of the newest vehicle_data reading, sampled every 5 s while the car is driving or charging: mean / p95 / max. Clock step {step.TotalSeconds:F0} s.");
        s.AppendLine();
        s.AppendLine("| vehicle | who | billable data calls | of which 408 asleep | wakes | est. cost $ | awake h | staleness driving/charging s |");
        s.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var (vin, name, role) in fleet)
        {
            foreach (var (who, ledger, w) in new[] { ("broker", brokerLedger, watch[vin].Broker), (naive, naiveLedger, watch[vin].Naive) })
            {
                var rows = ledger.Calls.Where(r => r.Device == vin && r.Billable).ToList();
                s.AppendLine(CultureInfo.InvariantCulture,
                    $"| {name} ({role}) | {who} | {rows.Where(r => r.Category == "data").Sum(r => r.Count)} | {rows.Where(r => r.Category == "data" && r.Status == 408).Sum(r => r.Count)} | {rows.Where(r => r.Category == "wake").Sum(r => r.Count)} | {rows.Sum(r => r.Cost):F3} | {w.Awake.TotalHours:F1} | {w.Staleness()} |");
            }
        }
        s.AppendLine();
        s.AppendLine("| per account-day | who | token refreshes (auth calls, status 200) | free calls (list/summary, energy) | other statuses |");
        s.AppendLine("|---|---|---|---|---|");
        foreach (var account in brokerLedger.Calls.Concat(naiveLedger.Calls).Select(r => r.Account).Where(a => a != "-").Distinct().Order())
        {
            foreach (var (who, ledger) in new[] { ("broker", brokerLedger), (naive, naiveLedger) })
            {
                var rows = ledger.Calls.Where(r => r.Account == account).ToList();
                var odd = rows.Where(r => r.Status is not (200 or 408)).GroupBy(r => $"{r.Category} {r.Status}").Select(g => $"{g.Key}: {g.Sum(r => r.Count)}");
                s.AppendLine(CultureInfo.InvariantCulture,
                    $"| {account} | {who} | {rows.Where(r => r.Category == "auth" && r.Status == 200).Sum(r => r.Count)} | {rows.Where(r => r.Category is "meta" or "energy").Sum(r => r.Count)} | {(string.Join(", ", odd) is { Length: > 0 } o ? o : "none")} |");
            }
        }
        s.AppendLine();
        foreach (var (who, ledger) in new[] { ("broker", brokerLedger), (naive, naiveLedger) })
        {
            var billable = ledger.Calls.Where(r => r.Billable).ToList();
            s.AppendLine(CultureInfo.InvariantCulture,
                $"Fleet total, {who}: {billable.Where(r => r.Category == "data").Sum(r => r.Count)} data calls, {billable.Where(r => r.Category == "wake").Sum(r => r.Count)} wakes, ${billable.Sum(r => r.Cost):F3} for {fleet.Length} vehicles (${billable.Sum(r => r.Cost) / fleet.Length:F3} per vehicle-day, ~${billable.Sum(r => r.Cost) / fleet.Length * 30:F2} per vehicle-month).");
        }
        return s.ToString();
    }
}

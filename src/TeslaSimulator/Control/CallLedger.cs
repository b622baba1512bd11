namespace TeslaSimulator.Control;

/// <summary>Host is the origin the call reached (an auth server or a regional Fleet API host), so tests can tell realms apart.</summary>
internal sealed record CallRow(string Account, string Device, string Category, int Status, long Count, bool Billable, decimal Cost, string Host);
internal sealed record CategoryTotal(long Calls, long Billable, decimal Cost);
internal sealed record CallTotals(long Calls, long Billable, decimal Cost, IReadOnlyDictionary<string, CategoryTotal> ByCategory);
internal sealed record CallsResponse(IReadOnlyList<CallRow> Calls, CallTotals Totals);

/// <summary>
/// Counts every auth and Fleet API request by account, device, category and status, and prices it the way
/// Tesla bills (TESLA.md §7): status &lt; 500 is billable; data $0.002, command $0.001, wake $0.02, a streamed signal $1/150,000, the rest free.
/// </summary>
internal sealed class CallLedger
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Account, string Device, string Category, int Status, string Host), long> _counts = [];

    public static decimal PriceOf(string category) => category switch
    {
        "data" => 0.002m,
        "command" => 0.001m,
        "wake" => 0.02m,
        "streaming" => 1m / 150_000m,   // one Fleet Telemetry signal (a field sent by a car)
        _ => 0m,
    };

    /// <summary>The billing category of a path, or null for paths that are not Tesla's API (the control API, the pairing page).</summary>
    public static string? CategoryOf(PathString path)
    {
        var p = path.Value ?? "";
        // /_ak is tesla.com's pairing page, a web page rather than an API call; /dev-idp is the demo's own OpenID provider.
        if (p.StartsWith("/_sim", StringComparison.OrdinalIgnoreCase) || p.StartsWith("/_ak/", StringComparison.OrdinalIgnoreCase)
            || p.StartsWith("/dev-idp/", StringComparison.OrdinalIgnoreCase)) return null;
        if (p.StartsWith("/oauth2/", StringComparison.OrdinalIgnoreCase) || p.StartsWith("/user/", StringComparison.OrdinalIgnoreCase)) return "auth";
        if (p.StartsWith("/api/1/energy_sites/", StringComparison.OrdinalIgnoreCase)) return "energy";
        if (p.StartsWith("/api/1/partner_accounts", StringComparison.OrdinalIgnoreCase)) return "partner";
        if (p.StartsWith("/api/1/vehicles/", StringComparison.OrdinalIgnoreCase))
        {
            if (p.EndsWith("/vehicle_data", StringComparison.OrdinalIgnoreCase)) return "data";
            if (p.EndsWith("/wake_up", StringComparison.OrdinalIgnoreCase)) return "wake";
            if (p.Contains("/command/", StringComparison.OrdinalIgnoreCase) || p.EndsWith("/signed_command", StringComparison.OrdinalIgnoreCase)) return "command";
        }
        return "meta";
    }

    public void Record(string account, string device, string category, int status, string host)
    {
        var key = (account, device, category, status, host);
        lock (_gate) _counts[key] = _counts.GetValueOrDefault(key) + 1;
    }

    public void Reset() { lock (_gate) _counts.Clear(); }

    public CallsResponse Snapshot(string? account)
    {
        List<CallRow> rows;
        lock (_gate)
        {
            rows = _counts
                .Where(kv => account is null || kv.Key.Account.Equals(account, StringComparison.OrdinalIgnoreCase))
                .Select(kv => new CallRow(kv.Key.Account, kv.Key.Device, kv.Key.Category, kv.Key.Status, kv.Value,
                    kv.Key.Status < 500, kv.Key.Status < 500 ? kv.Value * PriceOf(kv.Key.Category) : 0m, kv.Key.Host))
                .OrderBy(r => r.Account).ThenBy(r => r.Device).ThenBy(r => r.Category).ThenBy(r => r.Status).ThenBy(r => r.Host)
                .ToList();
        }
        var byCategory = rows.GroupBy(r => r.Category).ToDictionary(g => g.Key,
            g => new CategoryTotal(g.Sum(r => r.Count), g.Where(r => r.Billable).Sum(r => r.Count), g.Sum(r => r.Cost)));
        return new CallsResponse(rows, new CallTotals(rows.Sum(r => r.Count), rows.Where(r => r.Billable).Sum(r => r.Count),
            rows.Sum(r => r.Cost), byCategory));
    }
}

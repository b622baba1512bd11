using TeslaSimulator.State;

namespace TeslaSimulator.Fleet;

internal enum RateKind { Data, Wake, Command }

/// <summary>
/// Tesla's per-device limits (TESLA.md §7): realtime data 60/min, wakes 3/min, commands 30/min.
/// A sliding one-minute window on simulated time; over the limit answers 429 with Retry-After and RateLimit-* headers.
/// </summary>
internal sealed class DeviceRateLimiter(SimulatorState state)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private readonly Dictionary<(string Device, RateKind Kind), Queue<DateTimeOffset>> _hits = [];

    public static int LimitOf(RateKind kind) => kind switch { RateKind.Data => 60, RateKind.Wake => 3, _ => 30 };

    /// <summary>Counts the call and returns null, or returns the 429 to send. Caller holds the state gate.</summary>
    public IResult? Hit(HttpContext ctx, string device, RateKind kind)
    {
        var now = state.Now;
        if (!_hits.TryGetValue((device, kind), out var hits)) _hits[(device, kind)] = hits = new();
        while (hits.Count > 0 && hits.Peek() <= now - Window) hits.Dequeue();

        var limit = LimitOf(kind);
        var headers = ctx.Response.Headers;
        headers["RateLimit-Limit"] = limit.ToString();
        if (hits.Count >= limit)
        {
            var retry = (int)Math.Ceiling((hits.Peek() + Window - now).TotalSeconds);
            retry = Math.Max(1, retry);
            headers["RateLimit-Remaining"] = "0";
            headers["RateLimit-Reset"] = retry.ToString();
            headers.RetryAfter = retry.ToString();
            return TypedResults.Text($"Retry in {retry} seconds", "text/plain", statusCode: 429);
        }
        hits.Enqueue(now);
        headers["RateLimit-Remaining"] = (limit - hits.Count).ToString();
        headers["RateLimit-Reset"] = ((int)Math.Ceiling((hits.Peek() + Window - now).TotalSeconds)).ToString();
        return null;
    }
}

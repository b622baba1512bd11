namespace TeslaSimulator.Control;

/// <summary>
/// A queued fault. Body: null (a realistic default for the status), "malformed" (truncated JSON), "empty", or literal text.
/// Without a status the request is only delayed and then answered for real.
/// AfterCommit: the request is processed fully (e.g. a refresh token rotated) and the answer replaced: a lost response.
/// </summary>
internal sealed record FaultRequest(string Path, int? Status, int? Count, int? DelayMs, string? Body, int? RetryAfterSeconds, bool AfterCommit = false);

internal sealed record PendingFault(int Id, FaultRequest Fault, int Remaining);

internal sealed class FaultQueue
{
    private readonly Lock _gate = new();
    private readonly List<PendingFault> _faults = [];
    private int _nextId;

    public PendingFault Add(FaultRequest fault)
    {
        lock (_gate)
        {
            var pending = new PendingFault(++_nextId, fault, Math.Max(1, fault.Count ?? 1));
            _faults.Add(pending);
            return pending;
        }
    }

    public IReadOnlyList<PendingFault> List() { lock (_gate) return [.. _faults]; }

    public void Clear() { lock (_gate) _faults.Clear(); }

    /// <summary>Consumes one use of the first fault whose path is a prefix of the request path.</summary>
    public FaultRequest? Take(PathString path)
    {
        lock (_gate)
        {
            var index = _faults.FindIndex(f => path.StartsWithSegments(f.Fault.Path, StringComparison.OrdinalIgnoreCase)
                || (path.Value ?? "").StartsWith(f.Fault.Path, StringComparison.OrdinalIgnoreCase));
            if (index < 0) return null;
            var f = _faults[index];
            if (f.Remaining <= 1) _faults.RemoveAt(index);
            else _faults[index] = f with { Remaining = f.Remaining - 1 };
            return f.Fault;
        }
    }
}

namespace FleetScale;

/// <summary>
/// Simulated time, shared by two processes (the broker here, the simulator in the child) because both
/// compute it from the machine's wall clock and the same two numbers: real time until
/// <see cref="Accelerate"/>'s wall instant (connecting people takes as long as it takes), then
/// <c>speed</c> simulated seconds per wall second. Timers (Task.Delay, HTTP timeouts) stay real.
/// </summary>
public sealed class ScaledClock : TimeProvider
{
    private volatile Segment _segment;

    public ScaledClock(DateTimeOffset wallStart) => _segment = new Segment(wallStart, wallStart, 1);

    public double Speed => _segment.Speed;

    public override DateTimeOffset GetUtcNow()
    {
        var s = _segment;
        return s.SimAt + (DateTimeOffset.UtcNow - s.WallAt) * s.Speed;
    }

    /// <summary>From <paramref name="wallAt"/> (a moment just ahead, so both processes switch at the same instant) on.</summary>
    public DateTimeOffset Accelerate(DateTimeOffset wallAt, double speed)
    {
        var s = _segment;
        var simAt = s.SimAt + (wallAt - s.WallAt) * s.Speed;
        _segment = new Segment(wallAt, simAt, speed);
        return simAt;
    }

    private sealed record Segment(DateTimeOffset WallAt, DateTimeOffset SimAt, double Speed);
}

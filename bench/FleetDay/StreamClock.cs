using Microsoft.Extensions.Time.Testing;

namespace FleetDay;

/// <summary>
/// The streaming simulator's view of the shared fake clock. Its fleet-telemetry streamer ticks with
/// <c>Task.Delay(tick, TimeProvider)</c>, and each such delay creates one timer here: a new timer of <paramref name="tick"/>
/// means the tick before it is finished (fields collected, published, every PUBACK back). <see cref="Advance"/> moves the
/// clock for every world; the bench moves it one tick at a time and waits in <see cref="WaitForTickAsync"/>, so the streamer
/// ticks at each 500 ms of simulated time and never while the clock is moving. FakeTimeProvider fires timers on the thread
/// that advances it: a tick that had nothing to publish finishes there, inside <see cref="Advance"/> (counted as inline).
/// </summary>
public sealed class StreamClock(FakeTimeProvider inner, TimeSpan tick) : TimeProvider
{
    private readonly SemaphoreSlim _armed = new(0);
    private long _armedAt;
    private int _advancingThread = -1;
    private bool _armedInline;

    public TimeSpan Tick => tick;
    public long Ticks { get; private set; }
    public long InlineTicks { get; private set; }

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();
    public override long GetTimestamp() => inner.GetTimestamp();
    public override long TimestampFrequency => inner.TimestampFrequency;
    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = inner.CreateTimer(callback, state, dueTime, period);
        if (dueTime == tick && period == Timeout.InfiniteTimeSpan)
        {
            _armedInline = Environment.CurrentManagedThreadId == Volatile.Read(ref _advancingThread);
            Interlocked.Exchange(ref _armedAt, inner.GetUtcNow().UtcTicks);
            if (!_armedInline)
            {
                _armed.Release(); // nobody waits for an inline tick: the advancing thread is the waiter
            }
        }
        return timer;
    }

    /// <summary>Moves the shared clock (all worlds); call only while the streamer waits for its next tick.</summary>
    public void Advance(TimeSpan delta) => SetUtcNow(inner.GetUtcNow() + delta);

    public void SetUtcNow(DateTimeOffset to)
    {
        Volatile.Write(ref _advancingThread, Environment.CurrentManagedThreadId);
        try
        {
            inner.SetUtcNow(to);
        }
        finally
        {
            Volatile.Write(ref _advancingThread, -1);
        }
    }

    /// <summary>
    /// Waits (in real time) until the streamer has finished its tick at the current simulated moment and armed the next one.
    /// True when that tick went past the advancing thread (it published, or connected to MQTT); false when it finished inline.
    /// </summary>
    public async Task<bool> WaitForTickAsync()
    {
        // Armed at now (or, were the ticks not on the bench's grid, less than a tick ago): its next tick lies in the future.
        var now = inner.GetUtcNow().UtcTicks;
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (Interlocked.Read(ref _armedAt) + tick.Ticks <= now)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the simulated fleet-telemetry server did not tick at {inner.GetUtcNow():O} (last armed {new DateTime(_armedAt):O})");
            }
            await _armed.WaitAsync(TimeSpan.FromSeconds(1));
        }
        Ticks++;
        if (_armedInline)
        {
            InlineTicks++;
            return false;
        }
        return true;
    }
}

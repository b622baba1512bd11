using Microsoft.Extensions.Time.Testing;

namespace FleetDay;

/// <summary>
/// The streaming simulator's view of the shared fake clock. Its fleet-telemetry streamer ticks with
/// <c>Task.Delay(tick, TimeProvider)</c>, and each such delay creates one timer here: a new timer of <paramref name="tick"/>
/// means the tick before it is finished (fields collected, published, every PUBACK back). <see cref="Advance"/> moves the
/// clock for every world; the bench moves it one tick at a time and waits in <see cref="WaitForTickAsync"/>, so the streamer
/// ticks at each 500 ms of simulated time and never while the clock is moving. FakeTimeProvider fires timers on the thread
/// that advances it, so a tick may run (and even publish, when a PUBACK comes back before it is awaited) inside
/// <see cref="Advance"/>: whether a tick published is therefore not judged from where it finished (Streaming settles every tick).
/// </summary>
public sealed class StreamClock(FakeTimeProvider inner, TimeSpan tick) : TimeProvider
{
    private readonly SemaphoreSlim _armed = new(0);
    private long _armedAt;

    public TimeSpan Tick => tick;
    public long Ticks { get; private set; }

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();
    public override long GetTimestamp() => inner.GetTimestamp();
    public override long TimestampFrequency => inner.TimestampFrequency;
    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = inner.CreateTimer(callback, state, dueTime, period);
        if (dueTime == tick && period == Timeout.InfiniteTimeSpan)
        {
            Interlocked.Exchange(ref _armedAt, inner.GetUtcNow().UtcTicks);
            _armed.Release();
        }
        return timer;
    }

    /// <summary>Moves the shared clock (all worlds); call only while the streamer waits for its next tick.</summary>
    public void Advance(TimeSpan delta) => SetUtcNow(inner.GetUtcNow() + delta);

    public void SetUtcNow(DateTimeOffset to) => inner.SetUtcNow(to);

    /// <summary>Waits (in real time) until the streamer has finished its tick at the current simulated moment and armed the next one.</summary>
    public async Task WaitForTickAsync()
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
        while (_armed.CurrentCount > 0)
        {
            await _armed.WaitAsync(); // releases of ticks that finished before anyone waited: not to be counted next time
        }
        Ticks++;
    }
}

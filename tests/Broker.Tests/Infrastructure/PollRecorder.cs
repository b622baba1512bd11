using System.Collections.Concurrent;
using System.Diagnostics;
using Broker.Polling;
using Microsoft.Extensions.DependencyInjection;
using Quartz;

namespace Broker.Tests.Infrastructure;

/// <summary>One run of an account's poll job on one replica, on the process's monotonic clock (shared by every in-process replica).</summary>
public sealed record PollRun(string Replica, string Account, string FireInstanceId, long Started, long Ended)
{
    public TimeSpan StartedAt(long origin) => Stopwatch.GetElapsedTime(origin, Started);
    public TimeSpan EndedAt(long origin) => Stopwatch.GetElapsedTime(origin, Ended);
}

/// <summary>
/// Listens to each replica's own Quartz scheduler for the account poll jobs (<see cref="PollSchedule.Group"/>) and
/// records when each run started and ended there. Observation only: a listener is told just before and just
/// after the job body runs, on the job's thread, and changes nothing.
/// </summary>
public sealed class PollRecorder
{
    private readonly ConcurrentDictionary<string, long> _running = new();
    private readonly ConcurrentQueue<PollRun> _runs = new();

    public IReadOnlyList<PollRun> Runs => [.. _runs];

    /// <summary>Polls still running now (started, not ended), by replica and account.</summary>
    public IReadOnlyCollection<string> Running => [.. _running.Keys];

    /// <summary>Registers on the replica's scheduler; returns its Quartz instance id (each replica is its own cluster node).</summary>
    public async Task<string> AttachAsync(string replica, IServiceProvider services, CancellationToken ct)
    {
        var scheduler = await services.GetRequiredService<ISchedulerFactory>().GetScheduler(ct);
        scheduler.ListenerManager.AddJobListener(new Listener(this, replica), GroupMatcher<JobKey>.GroupEquals(PollSchedule.Group));
        return scheduler.SchedulerInstanceId;
    }

    private sealed class Listener(PollRecorder owner, string replica) : IJobListener
    {
        public string Name => $"poll-recorder-{replica}";

        public ValueTask JobToBeExecuted(IJobExecutionContext context, CancellationToken ct = default)
        {
            owner._running[Key(context)] = Stopwatch.GetTimestamp();
            return ValueTask.CompletedTask;
        }

        public ValueTask JobWasExecuted(IJobExecutionContext context, JobExecutionException? jobException, CancellationToken ct = default)
        {
            var ended = Stopwatch.GetTimestamp();
            if (owner._running.TryRemove(Key(context), out var started))
            {
                owner._runs.Enqueue(new PollRun(replica, context.JobDetail.Key.Name, context.FireInstanceId, started, ended));
            }
            return ValueTask.CompletedTask;
        }

        private string Key(IJobExecutionContext context) => $"{replica} {context.JobDetail.Key.Name} {context.FireInstanceId}";
    }
}

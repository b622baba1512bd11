using Broker.Accounts;
using Broker.Data;
using Microsoft.EntityFrameworkCore;
using Quartz;
using Quartz.Impl.Triggers;

namespace Broker.Polling;

/// <summary>
/// One Quartz job per active account, with one trigger that repeats every <see cref="SafetyInterval"/> from the
/// moment the account is next due. Firing it moves it an interval ahead in the same store transaction, and the job
/// then moves it to when something is next due; a poll that cannot (a crash, a node that stops, an exception) leaves
/// it to fire again within a minute, on any node. <see cref="ReconcileAsync"/> (every minute, by
/// <see cref="ScheduleAccountsJob"/>) adds jobs for new accounts, restores a missing trigger, and deletes the jobs of
/// accounts that are no longer active.
/// </summary>
public sealed class PollSchedule(ISchedulerFactory schedulers, BrokerDbContext db, TimeProvider time, ILogger<PollSchedule> logger)
{
    public const string Group = "accounts";

    /// <summary>How soon an account's trigger fires again by itself when its poll did not move it.</summary>
    public static readonly TimeSpan SafetyInterval = TimeSpan.FromMinutes(1);

    public static JobKey JobKeyOf(Guid accountId) => new($"poll-{accountId:N}", Group);
    public static TriggerKey TriggerKeyOf(Guid accountId) => new($"poll-{accountId:N}", Group);

    /// <summary>The account's trigger, due at <paramref name="at"/>; every schedule of an account is built here.</summary>
    /// <remarks>
    /// Missed by more than the store's misfire threshold (Quartz's default of a minute; AddJobs leaves it), for instance
    /// while every node was down, it fires at once: NowWithExistingCount moves the start to now and keeps repeating.
    /// The smart policy would not: for a trigger that repeats forever it means NextWithRemainingCount, which waits for
    /// the next interval after now (SimpleTriggerImpl.UpdateAfterMisfire).
    /// </remarks>
    public static ITrigger TriggerAt(Guid accountId, DateTimeOffset at) => TriggerBuilder.Create()
        .WithIdentity(TriggerKeyOf(accountId))
        .ForJob(JobKeyOf(accountId))
        .StartAt(at)
        .WithSimpleSchedule(s => s.WithInterval(SafetyInterval).RepeatForever()
            .WithMisfireInstruction(SimpleTriggerMisfireInstruction.NowWithExistingCount))
        .Build();

    /// <summary>Polls the account as soon as a node is free (after a connect or reconnect).</summary>
    public async Task PollSoonAsync(Guid accountId, CancellationToken ct)
    {
        var scheduler = await schedulers.GetScheduler(ct);
        await EnsureAsync(scheduler, accountId, time.GetUtcNow(), replaceTrigger: true, ct);
    }

    public async Task<(int Added, int Removed)> ReconcileAsync(CancellationToken ct)
    {
        var scheduler = await schedulers.GetScheduler(ct);
        var active = (await db.TeslaAccounts.Where(a => a.Status == AccountStatus.Active).Select(a => a.Id).ToListAsync(ct)).ToHashSet();
        var scheduled = (await scheduler.GetJobKeys(GroupMatcher<JobKey>.GroupEquals(Group), ct)).ToList();
        var added = 0;
        foreach (var id in active)
        {
            if (await EnsureAsync(scheduler, id, time.GetUtcNow(), replaceTrigger: false, ct))
            {
                added++;
            }
        }
        var removed = 0;
        foreach (var key in scheduled.Where(k => !active.Contains(AccountIdOf(k))))
        {
            await scheduler.DeleteJob(key, ct);
            removed++;
        }
        if (added + removed > 0)
        {
            logger.LogInformation("Poll schedule reconciled: {Added} account(s) scheduled, {Removed} removed", added, removed);
        }
        return (added, removed);
    }

    private static async Task<bool> EnsureAsync(IScheduler scheduler, Guid accountId, DateTimeOffset at, bool replaceTrigger, CancellationToken ct)
    {
        var job = JobBuilder.Create<PollAccountJob>()
            .WithIdentity(JobKeyOf(accountId))
            .UsingJobData(PollAccountJob.AccountIdKey, accountId.ToString())
            .StoreDurably()
            .RequestRecovery() // a node dying mid-poll: another node runs it again
            .Build();
        if (await scheduler.GetJobDetail(job.Key, ct) is null)
        {
            await scheduler.ScheduleJob(job, TriggerAt(accountId, at), new ScheduleJobOptions(), ct);
            return true;
        }
        var existing = replaceTrigger ? null : await scheduler.GetTrigger(TriggerKeyOf(accountId), ct);
        if (existing is ISimpleTrigger { RepeatCount: SimpleTriggerImpl.RepeatIndefinitely } current && current.RepeatInterval == SafetyInterval
            && current.MisfireInstructionCode == (int)SimpleTriggerMisfireInstruction.NowWithExistingCount)
        {
            return false;
        }
        // Missing, or a one-shot stored by a version whose triggers did not repeat (a database from before, or an old
        // node in a rolling update): replaced by the repeating shape at the time it had, rather than left until its
        // next poll, which could not have moved it had its node been stopping. If that poll is running right now, its
        // own reschedule races this one, and losing costs the account one extra poll.
        await MoveAsync(scheduler, accountId, existing?.NextFireTimeUtc ?? at, ct);
        return !replaceTrigger;
    }

    /// <summary>The account's own trigger (by key) to <paramref name="at"/>, in the repeating shape; made if it is missing.</summary>
    public static async Task MoveAsync(IScheduler scheduler, Guid accountId, DateTimeOffset at, CancellationToken ct)
    {
        var trigger = TriggerAt(accountId, at);
        if (await scheduler.RescheduleJob(trigger.Key, trigger, ct) is null)
        {
            await scheduler.ScheduleJob(trigger, new ScheduleJobOptions(), ct);
        }
    }

    private static Guid AccountIdOf(JobKey key) =>
        Guid.TryParseExact(key.Name.Replace("poll-", ""), "N", out var id) ? id : Guid.Empty;
}

/// <summary>
/// Keeps one job per active account (see <see cref="PollSchedule.ReconcileAsync"/>), and deletes revoked accounts' Fleet
/// Telemetry configs at Tesla (<see cref="Telemetry.TelemetrySetup.DeleteRevokedAsync"/>).
/// </summary>
[DisallowConcurrentExecution]
public sealed class ScheduleAccountsJob(PollSchedule schedule, Telemetry.TelemetrySetup telemetry) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        await schedule.ReconcileAsync(cancellationToken);
        await telemetry.DeleteRevokedAsync(cancellationToken);
    }
}

/// <summary>Polls one account, then moves its trigger to when something is next due (or removes the job).</summary>
/// <remarks>
/// No preparation before the poll: when Quartz fired the trigger it also moved it one
/// <see cref="PollSchedule.SafetyInterval"/> ahead, so a poll that never gets to the reschedule is tried again.
/// [DisallowConcurrentExecution] keeps that firing <c>BLOCKED</c>, not lost, while a long poll runs; Quartz releases
/// it when the poll ends, and one whose time passed meanwhile fires at once.
/// </remarks>
[DisallowConcurrentExecution]
public sealed class PollAccountJob(AccountPoller poller, ILogger<PollAccountJob> logger) : IJob
{
    public const string AccountIdKey = "accountId";

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var accountId = Guid.Parse(context.MergedJobDataMap.GetString(AccountIdKey)!);
        var next = await poller.PollAsync(accountId, context.ScheduledFireTimeUtc, cancellationToken);
        if (Stopping(context.Scheduler))
        {
            logger.LogInformation("Account {AccountId} polled while this node stops; its trigger fires again within a minute on another node", accountId);
            return;
        }
        if (next is null)
        {
            await context.Scheduler.DeleteJob(context.JobDetail.Key, cancellationToken);
            return;
        }
        // The account's own trigger by key, not context.Trigger: a recovery run (context.Recovering) fires Quartz's
        // one-shot recovery trigger, and the account's trigger, left repeating, is the one to move.
        await PollSchedule.MoveAsync(context.Scheduler, accountId, next.Value, cancellationToken);
    }

    /// <summary>The node is stopping: its scheduler refuses every change (a local scheduler answers at no cost).</summary>
    private static bool Stopping(IScheduler scheduler) => scheduler.Status is SchedulerStatus.ShuttingDown or SchedulerStatus.Shutdown;
}

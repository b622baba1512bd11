using System.ComponentModel.DataAnnotations;

namespace Broker.Jobs;

public sealed class JobsOptions
{
    public const string SectionName = "Jobs";

    /// <summary>Off only for tests that do not poll; every real node runs the scheduler.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often every account's schedule is checked against the database.</summary>
    [Range(5, 3600)] public int ReconcileIntervalSeconds { get; set; } = 60;

    /// <summary>How long an idle node waits before asking the database for due triggers (Quartz's IdleWaitTime).</summary>
    [Range(1, 60)] public int IdleWaitSeconds { get; set; } = 5;

    /// <summary>How often a node checks in with the cluster; a silent node's jobs are taken over after this.</summary>
    [Range(1, 300)] public int ClusterCheckinSeconds { get; set; } = 10;

    [Range(1, 64)] public int MaxConcurrency { get; set; } = 8;
}

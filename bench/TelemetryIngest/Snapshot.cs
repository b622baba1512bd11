using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace TelemetryIngest;

/// <summary>
/// Counters at one moment, so a window's figures are the difference of two: signals stored (the sum of every car's
/// <c>vehicle_telemetry.signals</c>, which the writer raises by one per applied field in the batch's transaction), CPU seconds
/// of the broker, mosquitto and Postgres (from /proc: Postgres is its postmaster with everything it reaped plus its live
/// backends), the database's size, WAL written (pg_stat_wal) and the largest tables.
/// </summary>
public sealed record Snapshot(long At, long Published, long Stored, double BrokerCpu, double MosquittoCpu, double PostgresCpu,
    long DatabaseBytes, long WalBytes, Dictionary<string, long> Tables)
{
    public static async Task<Snapshot> TakeAsync(string connectionString, long published, TimeSpan brokerCpu, int mosquittoPid)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        var stored = Convert.ToInt64(await Scalar(db, "SELECT coalesce(sum(signals), 0) FROM vehicle_telemetry"), CultureInfo.InvariantCulture);
        var size = (long)(await Scalar(db, "SELECT pg_database_size(current_database())"))!;
        var wal = Convert.ToInt64(await Scalar(db, "SELECT wal_bytes FROM pg_stat_wal"), CultureInfo.InvariantCulture);
        var tables = new Dictionary<string, long>();
        await using (var cmd = new NpgsqlCommand(
            "SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables ORDER BY 2 DESC LIMIT 6", db))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
            {
                tables[r.GetString(0)] = r.GetInt64(1);
            }
        }
        var postgres = await PostmasterPidAsync(db) is { } pm ? Cpu(pm, withReaped: true) + Children(pm).Sum(p => Cpu(p, withReaped: false)) : double.NaN;
        return new Snapshot(Stopwatch.GetTimestamp(), published, stored, brokerCpu.TotalSeconds, Cpu(mosquittoPid, withReaped: false), postgres, size, wal, tables);
    }

    private static async Task<object?> Scalar(NpgsqlConnection db, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, db);
        return await cmd.ExecuteScalarAsync();
    }

    /// <summary>The first line of postmaster.pid in the data directory; null when not readable (not superuser, another host).</summary>
    private static async Task<int?> PostmasterPidAsync(NpgsqlConnection db)
    {
        try
        {
            var dir = (string)(await Scalar(db, "SHOW data_directory"))!;
            return int.Parse(File.ReadLines(Path.Combine(dir, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is PostgresException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static IEnumerable<int> Children(int parent)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var pid) && Stat(pid) is { } s && s[1] == parent.ToString(CultureInfo.InvariantCulture))
            {
                yield return pid;
            }
        }
    }

    /// <summary>utime + stime (and cutime + cstime, children it waited for) in seconds, from /proc/PID/stat.</summary>
    private static double Cpu(int pid, bool withReaped)
    {
        if (Stat(pid) is not { } s)
        {
            return 0;
        }
        var ticks = long.Parse(s[11], CultureInfo.InvariantCulture) + long.Parse(s[12], CultureInfo.InvariantCulture);
        if (withReaped)
        {
            ticks += long.Parse(s[13], CultureInfo.InvariantCulture) + long.Parse(s[14], CultureInfo.InvariantCulture);
        }
        return ticks / 100.0; // USER_HZ
    }

    /// <summary>The fields after the command name: [0] is field 3 (state), [1] ppid, [11] utime …</summary>
    private static string[]? Stat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            return text[(text.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

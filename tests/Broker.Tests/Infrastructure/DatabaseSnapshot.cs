using Npgsql;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// Every row of the broker's own tables as text, to show that a refused request wrote nothing anywhere.
/// Data Protection keys and Quartz's tables change on their own schedule and are left out.
/// </summary>
public static class DatabaseSnapshot
{
    public static async Task<List<string>> TakeAsync(string connectionString, CancellationToken ct, params string[] skip)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' "
            + "AND table_name NOT LIKE 'qrtz%' AND table_name NOT IN ('data_protection_keys', '__EFMigrationsHistory') ORDER BY 1", connection))
        await using (var reader = await list.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct)) tables.Add(reader.GetString(0));
        }
        var rows = new List<string>();
        foreach (var table in tables.Except(skip))
        {
            await using var command = new NpgsqlCommand($"SELECT '{table}: ' || row_to_json(x)::text FROM \"{table}\" x", connection);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) rows.Add(reader.GetString(0));
        }
        rows.Sort(StringComparer.Ordinal);
        return rows;
    }

    /// <summary>What <paramref name="after"/> has that <paramref name="before"/> had not, and the other way round, for a failure message.</summary>
    public static string Difference(IReadOnlyList<string> before, IReadOnlyList<string> after) =>
        string.Join('\n', after.Except(before).Select(r => "+ " + r).Concat(before.Except(after).Select(r => "- " + r)));

    /// <summary>Every stored text value holding a control character other than a line break or tab in a column meant for them.</summary>
    public static async Task<List<string>> ControlCharactersAsync(string connectionString, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        var columns = new List<(string Table, string Column)>();
        await using (var list = new NpgsqlCommand(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND data_type IN ('text', 'character varying') "
            + "AND table_name NOT LIKE 'qrtz%' AND table_name <> 'data_protection_keys' ORDER BY 1, 2", connection))
        await using (var reader = await list.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct)) columns.Add((reader.GetString(0), reader.GetString(1)));
        }
        var found = new List<string>();
        foreach (var (table, column) in columns)
        {
            await using var command = new NpgsqlCommand($"SELECT \"{column}\" FROM \"{table}\" WHERE \"{column}\" ~ '[[:cntrl:]]'", connection);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) found.Add($"{table}.{column}: {reader.GetString(0)}");
        }
        return found;
    }
}

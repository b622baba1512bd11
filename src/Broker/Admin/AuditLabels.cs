using System.Text.RegularExpressions;
using Broker.Data;
using Microsoft.EntityFrameworkCore;

namespace Broker.Admin;

/// <summary>
/// What the console shows in place of a connect link's id in the audit log: its label. The log itself keeps the id (labels
/// change, links get deleted with their tenant); the pages look the labels up when they render.
/// </summary>
internal static partial class AuditLabels
{
    public static async Task<IReadOnlyDictionary<Guid, string>> LinksAsync(BrokerDbContext db, IEnumerable<AuditEventResponse> events, CancellationToken ct)
    {
        var ids = events.SelectMany(e => LinkIds().Matches($"{e.Actor} {e.Detail}")).Select(m => Guid.Parse(m.Groups["id"].Value)).Distinct().ToList();
        return ids.Count == 0
            ? new Dictionary<Guid, string>()
            : await db.ConnectLinks.AsNoTracking().Where(l => ids.Contains(l.Id))
                .ToDictionaryAsync(l => l.Id, l => l.Label ?? (l.AccountId == null ? "connect link without a label" : "reconnect link"), ct);
    }

    /// <summary>The text with each known link id replaced by <c>link "label"</c>.</summary>
    public static string Readable(string text, IReadOnlyDictionary<Guid, string> labels) =>
        labels.Count == 0 ? text : LinkIds().Replace(text, m =>
            labels.TryGetValue(Guid.Parse(m.Groups["id"].Value), out var label) ? $"{m.Groups["kind"].Value} \u201c{label}\u201d" : m.Value);

    [GeneratedRegex(@"(?<kind>reconnect-link|connect-link|link)[:=](?<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")]
    private static partial Regex LinkIds();
}

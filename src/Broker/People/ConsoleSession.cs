using Broker.Data;
using Broker.Tenants;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.EntityFrameworkCore;

namespace Broker.People;

/// <summary>
/// A console sign-in, kept in Postgres. The browser's cookie holds only a random key; this row holds the
/// ticket. Deleting the row ends the session on every replica at once, whoever still has a copy of the cookie.
/// </summary>
public sealed class ConsoleSession
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    /// <summary>SHA-256 of the key in the cookie: a database reader cannot turn rows into sessions.</summary>
    public required byte[] KeyHash { get; set; }
    public Guid? PersonId { get; set; }
    public required byte[] Ticket { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
}

/// <summary>
/// The cookie scheme's session store (<see cref="CookieAuthenticationOptions.SessionStore"/>). Rules:
/// a session exists only while its row does and until its ticket's expiry, whatever the cookie says;
/// sign-out deletes the row; <see cref="EndForPersonAsync"/> ends all of a person's sessions.
/// A singleton, as the options hold it: every call takes a database context of its own.
/// </summary>
public sealed class ConsoleSessionStore(IDbContextFactory<BrokerDbContext> contexts, TimeProvider time) : ITicketStore
{
    public Task<string> StoreAsync(AuthenticationTicket ticket) => StoreAsync(ticket, CancellationToken.None);

    public async Task<string> StoreAsync(AuthenticationTicket ticket, CancellationToken cancellationToken)
    {
        var key = SecretToken.New();
        var now = time.GetUtcNow();
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        // Sign-ins are rare: each one sweeps the sessions that ran out, so the table holds only live ones.
        await db.ConsoleSessions.Where(s => s.ExpiresAt < now).ExecuteDeleteAsync(cancellationToken);
        db.ConsoleSessions.Add(new ConsoleSession
        {
            KeyHash = SecretToken.Hash(key), PersonId = ticket.Principal.PersonId(), Ticket = TicketSerializer.Default.Serialize(ticket),
            CreatedAt = now, ExpiresAt = ticket.Properties.ExpiresUtc ?? now.AddHours(1),
        });
        await db.SaveChangesAsync(cancellationToken);
        return key;
    }

    public Task RenewAsync(string key, AuthenticationTicket ticket) => RenewAsync(key, ticket, CancellationToken.None);

    public async Task RenewAsync(string key, AuthenticationTicket ticket, CancellationToken cancellationToken)
    {
        var hash = SecretToken.Hash(key);
        var bytes = TicketSerializer.Default.Serialize(ticket);
        var expires = ticket.Properties.ExpiresUtc ?? time.GetUtcNow().AddHours(1);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        // Only a live row is renewed: a session ended elsewhere is not brought back by a request already in flight.
        await db.ConsoleSessions.Where(s => s.KeyHash == hash)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.Ticket, bytes).SetProperty(x => x.ExpiresAt, expires), cancellationToken);
    }

    public Task<AuthenticationTicket?> RetrieveAsync(string key) => RetrieveAsync(key, CancellationToken.None);

    public async Task<AuthenticationTicket?> RetrieveAsync(string key, CancellationToken cancellationToken)
    {
        var hash = SecretToken.Hash(key);
        var now = time.GetUtcNow();
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var row = await db.ConsoleSessions.Where(s => s.KeyHash == hash && s.ExpiresAt > now).Select(s => new { s.Id, s.Ticket }).SingleOrDefaultAsync(cancellationToken);
        if (row is null || TicketSerializer.Default.Deserialize(row.Ticket) is not { Principal.Identity: System.Security.Claims.ClaimsIdentity identity } ticket)
        {
            return null;
        }
        // Which session this is, for what must stay inside one (a secret shown once): replaced, never stacked, as a renewal stores it back.
        foreach (var stale in identity.FindAll(SessionClaim).ToList())
        {
            identity.RemoveClaim(stale);
        }
        identity.AddClaim(new System.Security.Claims.Claim(SessionClaim, row.Id.ToString()));
        return ticket;
    }

    /// <summary>The claim that carries the console session's id (<see cref="ConsoleSession.Id"/>) on a signed-in principal.</summary>
    public const string SessionClaim = "broker:console_session";

    public Task RemoveAsync(string key) => RemoveAsync(key, CancellationToken.None);

    public async Task RemoveAsync(string key, CancellationToken cancellationToken)
    {
        var hash = SecretToken.Hash(key);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await db.ConsoleSessions.Where(s => s.KeyHash == hash).ExecuteDeleteAsync(cancellationToken);
    }

    /// <summary>Ends every session of a person (removed from a tenant), on every replica, at once.</summary>
    public static Task<int> EndForPersonAsync(BrokerDbContext db, Guid personId, CancellationToken ct) =>
        db.ConsoleSessions.Where(s => s.PersonId == personId).ExecuteDeleteAsync(ct);
}

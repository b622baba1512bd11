using Broker.Accounts;
using Broker.Admin;
using Broker.Connect;
using Broker.Partner;
using Broker.People;
using Broker.Polling;
using Broker.Tenants;
using Broker.Vault;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Broker.Data;

/// <summary>
/// The broker's schema. Migrations live in the top-level <c>migrations/</c> folder:
/// <c>dotnet ef migrations add &lt;Name&gt; --project src/Broker --output-dir ../../migrations</c>,
/// then move the regenerated <c>src/Broker/Migrations/BrokerDbContextModelSnapshot.cs</c> into <c>migrations/</c>.
/// </summary>
public sealed class BrokerDbContext(DbContextOptions<BrokerDbContext> options) : DbContext(options), IDataProtectionKeyContext
{
    public DbSet<Tenant> Tenants => Set<Tenant>();
    public DbSet<TenantApiKey> TenantApiKeys => Set<TenantApiKey>();
    public DbSet<ConnectLink> ConnectLinks => Set<ConnectLink>();
    public DbSet<TeslaAccount> TeslaAccounts => Set<TeslaAccount>();
    public DbSet<TeslaToken> TeslaTokens => Set<TeslaToken>();
    public DbSet<Vehicle> Vehicles => Set<Vehicle>();
    public DbSet<EnergySite> EnergySites => Set<EnergySite>();
    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();
    public DbSet<VehicleReading> VehicleReadings => Set<VehicleReading>();
    public DbSet<EnergySiteReading> EnergySiteReadings => Set<EnergySiteReading>();
    public DbSet<Telemetry.VehicleTelemetry> VehicleTelemetry => Set<Telemetry.VehicleTelemetry>();
    public DbSet<ApiUsage> ApiUsage => Set<ApiUsage>();
    public DbSet<ApiFailure> ApiFailures => Set<ApiFailure>();
    public DbSet<Person> People => Set<Person>();
    public DbSet<Membership> Memberships => Set<Membership>();
    public DbSet<ConsoleSession> ConsoleSessions => Set<ConsoleSession>();
    public DbSet<OperatorApiKey> OperatorApiKeys => Set<OperatorApiKey>();
    public DbSet<PartnerKey> PartnerKeys => Set<PartnerKey>();
    public DbSet<PartnerRegistration> PartnerRegistrations => Set<PartnerRegistration>();
    public DbSet<Tesla.TeslaAppState> TeslaApps => Set<Tesla.TeslaAppState>();
    public DbSet<Commands.CommandRecord> Commands => Set<Commands.CommandRecord>();
    public DbSet<Commands.CommandSession> CommandSessions => Set<Commands.CommandSession>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        DefineTenant(modelBuilder.Entity<Tenant>());
        DefineCommands(modelBuilder.Entity<Commands.CommandRecord>(), modelBuilder.Entity<Commands.CommandSession>());
        DefineApiKey(modelBuilder.Entity<TenantApiKey>());
        DefineConnectLink(modelBuilder.Entity<ConnectLink>());
        DefineAccount(modelBuilder.Entity<TeslaAccount>());
        DefineToken(modelBuilder.Entity<TeslaToken>());
        DefineVehicle(modelBuilder.Entity<Vehicle>());
        DefineEnergySite(modelBuilder.Entity<EnergySite>());
        modelBuilder.Entity<AuditEvent>().HasIndex(e => new { e.TenantId, e.At });
        modelBuilder.Entity<AuditEvent>().HasIndex(e => e.At);
        modelBuilder.Entity<AuditEvent>().Property(e => e.Address).HasMaxLength(64);
        DefineReadings(modelBuilder);
        DefinePeople(modelBuilder);
        DefinePartner(modelBuilder);
        var app = modelBuilder.Entity<Tesla.TeslaAppState>();
        app.HasKey(a => a.Realm);
        app.Property(a => a.Realm).HasMaxLength(16);
        app.Property(a => a.Error).HasMaxLength(200);
    }

    private static void DefinePeople(ModelBuilder modelBuilder)
    {
        var person = modelBuilder.Entity<Person>();
        person.HasIndex(p => new { p.Issuer, p.Subject }).IsUnique();
        person.Property(p => p.Issuer).HasMaxLength(300);
        person.Property(p => p.Subject).HasMaxLength(200);
        person.Property(p => p.Email).HasMaxLength(320);
        person.Property(p => p.Name).HasMaxLength(200);

        var membership = modelBuilder.Entity<Membership>();
        membership.HasIndex(m => new { m.TenantId, m.Email }).IsUnique();
        membership.HasIndex(m => m.Email);
        membership.HasIndex(m => m.PersonId);
        membership.HasOne(m => m.Tenant).WithMany().HasForeignKey(m => m.TenantId).OnDelete(DeleteBehavior.Cascade);
        membership.HasOne<Person>().WithMany().HasForeignKey(m => m.PersonId).OnDelete(DeleteBehavior.SetNull);
        membership.Property(m => m.Email).HasMaxLength(320);
        membership.Property(m => m.Role).HasConversion<string>().HasMaxLength(16);
        membership.Property(m => m.CreatedBy).HasMaxLength(400);

        var session = modelBuilder.Entity<ConsoleSession>();
        session.HasIndex(s => s.KeyHash).IsUnique();
        session.HasIndex(s => s.PersonId);
        session.HasIndex(s => s.ExpiresAt);
        session.HasOne<Person>().WithMany().HasForeignKey(s => s.PersonId).OnDelete(DeleteBehavior.Cascade);

        var key = modelBuilder.Entity<OperatorApiKey>();
        key.HasIndex(k => k.KeyHash).IsUnique();
        key.Property(k => k.DisplayPrefix).HasMaxLength(16);
        key.Property(k => k.Scope).HasConversion<string>().HasMaxLength(16);
        key.Property(k => k.Label).HasMaxLength(200);
        key.Property(k => k.CreatedBy).HasMaxLength(400);
    }

    private static void DefinePartner(ModelBuilder modelBuilder)
    {
        var key = modelBuilder.Entity<PartnerKey>();
        // At most one current key: two made at once cannot both be current (the loser's insert fails, a 409).
        key.HasIndex(k => k.RetiredAt).IsUnique().AreNullsDistinct(false).HasFilter("retired_at IS NULL").HasDatabaseName("ux_partner_keys_one_current");
        key.Property(k => k.PublicKeyHex).HasMaxLength(130);
        key.Property(k => k.VaultKeyId).HasMaxLength(64);
        key.Property(k => k.Origin).HasMaxLength(16);

        var registration = modelBuilder.Entity<PartnerRegistration>();
        registration.HasKey(r => r.Region);
        registration.Property(r => r.Region).HasMaxLength(8);
        registration.Property(r => r.Domain).HasMaxLength(253);
        registration.Property(r => r.Status).HasMaxLength(16);
        registration.Property(r => r.PublicKeyHex).HasMaxLength(130);
        registration.Property(r => r.Error).HasMaxLength(1000);
    }

    private static void DefineReadings(ModelBuilder modelBuilder)
    {
        var vehicle = modelBuilder.Entity<VehicleReading>();
        vehicle.HasKey(r => r.VehicleId);
        vehicle.HasOne<Vehicle>().WithOne().HasForeignKey<VehicleReading>(r => r.VehicleId).OnDelete(DeleteBehavior.Cascade);
        vehicle.HasIndex(r => r.TenantId);
        vehicle.HasIndex(r => r.AccountId);
        vehicle.Property(r => r.State).HasMaxLength(16);

        var telemetry = modelBuilder.Entity<Telemetry.VehicleTelemetry>();
        telemetry.HasKey(t => t.VehicleId);
        telemetry.HasOne<Vehicle>().WithOne().HasForeignKey<Telemetry.VehicleTelemetry>(t => t.VehicleId).OnDelete(DeleteBehavior.Cascade);
        telemetry.HasIndex(t => t.Vin); // MQTT topics name the car by VIN
        telemetry.HasIndex(t => t.AccountId);
        telemetry.HasIndex(t => t.TenantId);
        telemetry.Property(t => t.Vin).HasMaxLength(17);
        telemetry.Property(t => t.Status).HasConversion<string>().HasMaxLength(32);
        telemetry.Property(t => t.SkipReason).HasMaxLength(200);

        var site = modelBuilder.Entity<EnergySiteReading>();
        site.HasKey(r => r.EnergySiteId);
        site.HasOne<EnergySite>().WithOne().HasForeignKey<EnergySiteReading>(r => r.EnergySiteId).OnDelete(DeleteBehavior.Cascade);
        site.HasIndex(r => r.TenantId);
        site.HasIndex(r => r.AccountId);

        var usage = modelBuilder.Entity<ApiUsage>();
        usage.HasKey(u => new { u.AccountId, u.Device, u.Category, u.Billable, u.Month });
        usage.Property(u => u.Device).HasMaxLength(32);
        usage.HasOne<TeslaAccount>().WithMany().HasForeignKey(u => u.AccountId).OnDelete(DeleteBehavior.Cascade);
        usage.HasIndex(u => u.TenantId);
        usage.Property(u => u.Category).HasMaxLength(16);
        usage.Property(u => u.CostUsd).HasPrecision(18, 6);

        var failure = modelBuilder.Entity<ApiFailure>();
        failure.HasKey(f => new { f.AccountId, f.Reason, f.Status });
        failure.HasOne<TeslaAccount>().WithMany().HasForeignKey(f => f.AccountId).OnDelete(DeleteBehavior.Cascade);
        failure.HasIndex(f => f.TenantId);
        failure.Property(f => f.Reason).HasMaxLength(16);
    }

    private static void DefineCommands(EntityTypeBuilder<Commands.CommandRecord> command, EntityTypeBuilder<Commands.CommandSession> session)
    {
        command.ToTable("vehicle_commands");
        // An Idempotency-Key names one command per tenant while it is kept (a day).
        command.HasIndex(c => new { c.TenantId, c.IdempotencyKey }).IsUnique().HasFilter("idempotency_key IS NOT NULL");
        command.HasIndex(c => new { c.Vin, c.RequestedAt });   // the car's last minute, whichever tenant: Tesla's 30 per minute
        command.HasIndex(c => c.VehicleId);
        command.HasIndex(c => c.AccountId);
        command.HasOne<Vehicle>().WithMany().HasForeignKey(c => c.VehicleId).OnDelete(DeleteBehavior.Cascade);
        command.Property(c => c.Vin).HasMaxLength(64);
        command.Property(c => c.Name).HasMaxLength(64);
        command.Property(c => c.Parameters).HasColumnType("jsonb");
        command.Property(c => c.IdempotencyKey).HasMaxLength(255);
        command.Property(c => c.Actor).HasMaxLength(400);
        command.Property(c => c.Outcome).HasMaxLength(16);
        command.Property(c => c.Reason).HasMaxLength(400);
        command.Property(c => c.Channel).HasMaxLength(8);

        session.HasKey(s => new { s.VehicleId, s.Domain });
        session.HasOne<Vehicle>().WithMany().HasForeignKey(s => s.VehicleId).OnDelete(DeleteBehavior.Cascade);
    }

    private static void DefineTenant(EntityTypeBuilder<Tenant> tenant)
    {
        tenant.HasIndex(t => t.Slug).IsUnique();
        tenant.Property(t => t.Slug).HasMaxLength(64);
        tenant.Property(t => t.Name).HasMaxLength(200);
        tenant.Property(t => t.MonthlyBudgetUsd).HasPrecision(18, 2);
        tenant.Property(t => t.BudgetSpentUsd).HasPrecision(18, 6);
        tenant.Property(t => t.BudgetProjectedUsd).HasPrecision(18, 6);
        tenant.Property(t => t.BudgetState).HasMaxLength(16).HasDefaultValue("normal");
    }

    private static void DefineApiKey(EntityTypeBuilder<TenantApiKey> key)
    {
        key.HasIndex(k => k.KeyHash).IsUnique();
        key.Property(k => k.Prefix).HasMaxLength(16);
        key.Property(k => k.Label).HasMaxLength(200);
        key.Property(k => k.Scope).HasConversion<string>().HasMaxLength(16);
    }

    private static void DefineConnectLink(EntityTypeBuilder<ConnectLink> link)
    {
        link.HasIndex(l => l.TokenHash).IsUnique();
        link.Property(l => l.Label).HasMaxLength(200);
        link.Property(l => l.CreatedBy).HasMaxLength(400);
        link.Property(l => l.Region).HasMaxLength(8);
        link.HasOne<TeslaAccount>().WithMany().HasForeignKey(l => l.AccountId).OnDelete(DeleteBehavior.Cascade);
    }

    private static void DefineAccount(EntityTypeBuilder<TeslaAccount> account)
    {
        // One row per Tesla user per tenant: a reconnect updates it instead of duplicating it.
        account.HasIndex(a => new { a.TenantId, a.Subject }).IsUnique();
        account.HasOne<Tenant>().WithMany().HasForeignKey(a => a.TenantId).OnDelete(DeleteBehavior.Cascade);
        account.HasOne<ConnectLink>().WithMany().HasForeignKey(a => a.ConnectLinkId).OnDelete(DeleteBehavior.SetNull);
        account.Property(a => a.Status).HasConversion<string>().HasMaxLength(32);
        account.Property(a => a.Subject).HasMaxLength(200);
        account.Property(a => a.Region).HasMaxLength(8);
        account.Property(a => a.RevokedBy).HasMaxLength(400);
        account.Property(a => a.TokenRejectedError).HasMaxLength(200);
        account.HasMany(a => a.Vehicles).WithOne().HasForeignKey(v => v.AccountId).OnDelete(DeleteBehavior.Cascade);
        account.HasMany(a => a.EnergySites).WithOne().HasForeignKey(s => s.AccountId).OnDelete(DeleteBehavior.Cascade);
    }

    private static void DefineToken(EntityTypeBuilder<TeslaToken> token)
    {
        token.HasKey(t => t.AccountId);
        token.HasOne<TeslaAccount>().WithOne().HasForeignKey<TeslaToken>(t => t.AccountId).OnDelete(DeleteBehavior.Cascade);
        token.HasIndex(t => t.KeyId);
        token.Property(t => t.KeyId).HasMaxLength(64);
    }

    private static void DefineVehicle(EntityTypeBuilder<Vehicle> vehicle)
    {
        vehicle.HasIndex(v => new { v.AccountId, v.Vin }).IsUnique();
        vehicle.HasIndex(v => v.TenantId);
        vehicle.Property(v => v.Vin).HasMaxLength(17);
    }

    private static void DefineEnergySite(EntityTypeBuilder<EnergySite> site)
    {
        site.HasIndex(s => new { s.AccountId, s.EnergySiteId }).IsUnique();
        site.HasIndex(s => s.TenantId);
    }
}

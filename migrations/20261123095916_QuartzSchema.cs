using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Broker.Migrations
{
    /// <summary>
    /// The Quartz.NET job store tables (prefix <c>qrtz_</c>), from the PostgreSQL script embedded in
    /// Quartz.dll. Applied here, with the broker's own schema, rather than by Quartz at start-up, so
    /// one step (<c>Broker migrate</c>) owns every table. The script only creates what is missing.
    /// </summary>
    public partial class QuartzSchema : Migration
    {
        internal const string TablePrefix = "qrtz_";

        protected override void Up(MigrationBuilder migrationBuilder)
        {
            using var stream = typeof(Quartz.IJob).Assembly.GetManifestResourceStream("Quartz.Impl.AdoJobStore.Schema.create_postgres.sql")
                ?? throw new InvalidOperationException("Quartz.dll no longer embeds create_postgres.sql; extract the schema into this migration.");
            var script = new StreamReader(stream).ReadToEnd().Replace("{0}", TablePrefix).Replace("{1}", TablePrefix);
            foreach (var statement in script.Split("\n--;;", StringSplitOptions.RemoveEmptyEntries))
            {
                if (statement.Split('\n').Any(line => line.Trim().Length > 0 && !line.TrimStart().StartsWith("--")))
                {
                    migrationBuilder.Sql(statement);
                }
            }
        }

        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DO $$ DECLARE t text; BEGIN
                  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'qrtz\_%' LOOP
                    EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', t);
                  END LOOP;
                END $$;
                """);
        }
    }
}

DROP INDEX "incidents_due_waits_idx";--> statement-breakpoint
ALTER TABLE "incidents" ADD COLUMN "next_timer_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "incidents_next_timer_idx" ON "incidents" USING btree ("next_timer_at","id") WHERE "incidents"."next_timer_at" is not null;
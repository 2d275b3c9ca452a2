CREATE TABLE "war_rooms" (
	"incident_id" uuid NOT NULL,
	"platform" text NOT NULL,
	"name" text NOT NULL,
	"channel" text,
	"progress" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "war_rooms_pk" PRIMARY KEY("incident_id","platform"),
	CONSTRAINT "war_rooms_channel_unique" UNIQUE("platform","channel")
);
